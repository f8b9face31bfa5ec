"""``halgui link``, ``halgui import --media`` and ``halgui add`` meeting imported labels, as a
user runs them: a real subprocess, the real UCF101-24 excerpt, real frame folders and files."""

import json
import shutil

from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.media import EXCERPT, excerpt_frames, write_frames
from tests.core.videos import write_mp4
from tests.test_cli import halgui

SALSA = "SalsaSpin/v_SalsaSpin_g23_c03"


def _paths(project) -> dict[str, str | None]:
    info = json.loads(halgui("info", project, "--videos", "--json").stdout)
    return {v["name"]: v["path"] for v in info["video_list"]}


def test_import_with_media_links_what_it_finds_and_reports_the_rest(tmp_path):
    shutil.copy(EXCERPT, tmp_path / "pyannot.pkl")
    root = tmp_path / "rgb-images"
    for name, n in excerpt_frames().items():
        if name != SALSA:
            write_frames(root / name, n)
    result = halgui("import", tmp_path / "p", "--format", "ucf24", tmp_path / "pyannot.pkl",
                    "--media", root, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert (report["videos"], report["linked"]) == (6, 5)
    media = report["media"]
    assert (media["linked"], media["missing"], media["mismatched"], media["ambiguous"]) == (
        5, 1, 0, 0)
    assert [(p["video"], p["status"]) for p in media["problems"]] == [(SALSA, "missing")]
    paths = _paths(tmp_path / "p")
    assert paths[SALSA] is None
    assert paths["Skijet/v_Skijet_g10_c04"] == str(root / "Skijet/v_Skijet_g10_c04")

    # the missing one arrives later: a dry run says so and changes nothing, then link links it
    write_frames(root / SALSA, excerpt_frames()[SALSA])
    dry = halgui("link", tmp_path / "p", root, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would link {SALSA} -> {root / SALSA}" in dry.stdout
    assert _paths(tmp_path / "p")[SALSA] is None
    done = json.loads(halgui("link", tmp_path / "p", root, "--json").stdout)
    assert (done["linked"], done["problems"]) == (1, [])
    assert _paths(tmp_path / "p")[SALSA] == str(root / SALSA)


def test_add_links_a_frame_folder_named_like_an_imported_video(tmp_path):
    shutil.copy(EXCERPT, tmp_path / "pyannot.pkl")
    assert halgui("import", tmp_path / "p", "--format", "ucf24",
                  tmp_path / "pyannot.pkl").returncode == 0
    name = "Basketball/v_Basketball_g01_c01"
    folder = write_frames(tmp_path / "rgb-images" / name, excerpt_frames()[name])
    result = halgui("add", tmp_path / "p", folder)
    assert result.returncode == 0, result.stderr
    assert "added 0 video(s)" in result.stdout
    assert f"linked {folder} to the annotation-only video {name}" in result.stdout
    assert "built 1 proxy(ies)" in result.stdout  # a linked video seeks fast too
    paths = _paths(tmp_path / "p")
    assert len(paths) == 6 and paths[name] == str(folder)


def test_import_with_media_for_a_format_with_video_files(tmp_path):
    from halgui.core.formats import halgui_json

    with Project.create(tmp_path / "src") as src:
        src.add_video("street/cam2", path=None, width=64, height=48, n_frames=9)
        run_to_end(halgui_json.export_labels(src.snapshot(), tmp_path / "gt.json"))
    (tmp_path / "media" / "street").mkdir(parents=True)
    write_mp4(tmp_path / "media" / "street" / "cam2.mp4", n_frames=9)
    result = halgui("import", tmp_path / "p", "--format", "halgui", tmp_path / "gt.json",
                    "--media", tmp_path / "media")
    assert result.returncode == 0, result.stderr
    assert _paths(tmp_path / "p") == {"street/cam2": str(tmp_path / "media/street/cam2.mp4")}


def test_a_media_root_that_is_not_a_folder_is_one_line_and_exit_2(tmp_path):
    assert halgui("new", tmp_path / "p").returncode == 0
    result = halgui("link", tmp_path / "p", tmp_path / "nowhere")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"halgui: error: {tmp_path / 'nowhere'}: is not a folder (give the folder that holds "
        "the media)"]
    shutil.copy(EXCERPT, tmp_path / "pyannot.pkl")
    result = halgui("import", tmp_path / "q", "--format", "ucf24", tmp_path / "pyannot.pkl",
                    "--media", tmp_path / "nowhere")
    assert result.returncode == 2 and "--media must be a folder" in result.stderr
    assert not (tmp_path / "q").exists()  # refused before anything was made
