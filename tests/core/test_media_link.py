"""Linking imported and moved videos to their media by name, on the real UCF101-24 excerpt with
frame folders written in the dataset's own layout (``rgb-images/<Class>/<video>/00001.jpg``)."""

from __future__ import annotations

import shutil

import pytest

from halgui.core.errors import VideoError
from halgui.core.ingest import add_videos
from halgui.core.media_link import link_media
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from halgui.core.video_source import VideoSource
from tests.core.media import excerpt_frames, import_excerpt, write_frames
from tests.core.videos import write_mp4

BASKETBALL = "Basketball/v_Basketball_g01_c01"
FENCING = "Fencing/v_Fencing_g06_c02"
FENCING_2 = "Fencing/v_Fencing_g14_c02"
POLEVAULT = "PoleVault/v_PoleVault_g14_c07"
SALSA = "SalsaSpin/v_SalsaSpin_g23_c03"
SKIJET = "Skijet/v_Skijet_g10_c04"


@pytest.fixture
def project(tmp_path):
    with import_excerpt(tmp_path) as p:
        yield p


def _state(project: Project) -> dict[str, tuple]:
    return {v.name: (v.path, v.size, v.hash, v.kind) for v in project.videos()}


def test_frame_folders_in_the_datasets_layout_link_with_the_right_counts(project, tmp_path):
    frames = excerpt_frames()
    root = tmp_path / "media" / "rgb-images"
    for name, n in frames.items():
        write_frames(root / name, n)
    result = run_to_end(link_media(project, root))
    assert result.counts() == {"linked": 6, "missing": 0, "mismatched": 0, "ambiguous": 0}
    for video in project.videos():
        assert video.path == (root / video.name).resolve()
        assert (video.kind, video.hash is not None) == ("frames", True)
        with VideoSource.from_record(video).open() as reader:  # the frames the boxes are on
            assert len(reader) == frames[video.name] == video.n_frames
            assert reader.read(len(reader) - 1).shape == (240, 320, 3)
    again = run_to_end(link_media(project, root))
    assert again.outcomes == []  # nothing needs media any more


def test_each_problem_gets_its_row_and_changes_nothing_for_its_video(project, tmp_path):
    frames = excerpt_frames()
    root = tmp_path / "rgb-images"
    write_frames(root / BASKETBALL, frames[BASKETBALL])
    write_frames(root / SKIJET, frames[SKIJET])
    write_frames(root / FENCING, frames[FENCING], skip=27)              # one frame missing
    write_frames(root / FENCING_2, frames[FENCING_2], size=(160, 120))  # wrong size
    write_frames(root / POLEVAULT, frames[POLEVAULT])                   # two candidates
    (root / f"{POLEVAULT}.avi").write_bytes(b"a second file with the same name")
    # SalsaSpin: nothing has its name
    before = _state(project)

    dry = run_to_end(link_media(project, root, dry_run=True))
    assert _state(project) == before
    result = run_to_end(link_media(project, root))
    for outcome in (dry, result):
        assert outcome.counts() == {"linked": 2, "missing": 1, "mismatched": 2, "ambiguous": 1}
    rows = {o.name: o for o in result.outcomes}
    assert {n for n, o in rows.items() if o.status == "linked"} == {BASKETBALL, SKIJET}
    assert rows[FENCING].status == "mismatched"
    assert "frame 00027 is missing" in rows[FENCING].detail
    assert f"has {frames[FENCING] - 1} frames" in rows[FENCING].detail
    assert rows[FENCING_2].status == "mismatched" and "is 160x120" in rows[FENCING_2].detail
    assert rows[POLEVAULT].status == "ambiguous" and len(rows[POLEVAULT].candidates) == 2
    assert rows[SALSA].status == "missing"
    after = _state(project)
    for name in (FENCING, FENCING_2, POLEVAULT, SALSA):
        assert after[name] == before[name] == (None, None, None, "file")
    # the problems fixed, a second run links the rest and leaves the linked two alone
    write_frames(root / FENCING, frames[FENCING])
    shutil.rmtree(root / FENCING_2)
    write_frames(root / FENCING_2, frames[FENCING_2])
    (root / f"{POLEVAULT}.avi").unlink()
    write_frames(root / SALSA, frames[SALSA])
    assert run_to_end(link_media(project, root)).counts()["linked"] == 4
    assert _state(project)[BASKETBALL] == after[BASKETBALL]


def test_a_gap_in_the_numbering_is_a_mismatch_even_with_the_right_count(project, tmp_path):
    n = excerpt_frames()[SKIJET]
    folder = write_frames(tmp_path / "m" / SKIJET, n - 1)
    write_frames(folder, 1, first=n + 5)  # the count is right, frame n is missing
    (outcome,) = [o for o in run_to_end(link_media(project, tmp_path / "m")).outcomes
                  if o.name == SKIJET]
    assert outcome.status == "mismatched" and f"frame {n:05d} is missing" in outcome.detail


def test_the_last_component_alone_finds_media_in_another_layout(project, tmp_path):
    frames = excerpt_frames()
    flat = tmp_path / "flat"
    write_frames(flat / "batch1" / "v_Basketball_g01_c01", frames[BASKETBALL])
    write_frames(flat / "v_Skijet_g10_c04", frames[SKIJET])
    write_frames(flat / "a" / "v_SalsaSpin_g23_c03", frames[SALSA])  # same name twice
    write_frames(flat / "b" / "v_SalsaSpin_g23_c03", frames[SALSA])
    rows = {o.name: o for o in run_to_end(link_media(project, flat)).outcomes}
    assert rows[BASKETBALL].status == rows[SKIJET].status == "linked"
    assert rows[BASKETBALL].path == (flat / "batch1" / "v_Basketball_g01_c01").resolve()
    assert rows[SALSA].status == "ambiguous" and len(rows[SALSA].candidates) == 2
    assert project.video_by_name(SALSA).path is None


def test_a_last_component_that_two_videos_share_is_not_guessed(tmp_path):
    with Project.create(tmp_path / "p") as project:
        for cls in ("walk", "run"):
            project.add_video(f"{cls}/clip", path=None, width=320, height=240, n_frames=5)
        write_frames(tmp_path / "m" / "clip", 5)
        rows = run_to_end(link_media(project, tmp_path / "m")).outcomes
        assert [o.status for o in rows] == ["ambiguous", "ambiguous"]
        assert all(v.path is None for v in project.videos())


def test_video_files_by_name_and_a_moved_video_found_again(tmp_path):
    with Project.create(tmp_path / "p") as project:
        write_mp4(tmp_path / "a.mp4", n_frames=12, seed=1)
        (moved,) = run_to_end(add_videos(project, [tmp_path / "a.mp4"])).added
        waiting = project.add_video("street/cam2", path=None, width=64, height=48, n_frames=9)
        media = tmp_path / "media"
        (media / "street").mkdir(parents=True)
        write_mp4(media / "street" / "cam2.MP4", n_frames=9, seed=2)
        shutil.move(tmp_path / "a.mp4", media / "a.mp4")
        result = run_to_end(link_media(project, media))
        assert result.counts()["linked"] == 2
        assert project.video(moved).path == (media / "a.mp4").resolve()
        assert project.video(waiting).path == (media / "street" / "cam2.MP4").resolve()
        # a different file under the moved video's name is not taken for it
        (media / "a.mp4").rename(tmp_path / "kept.mp4")
        write_mp4(media / "a.mp4", n_frames=12, seed=3)
        (row,) = run_to_end(link_media(project, media)).outcomes
        assert row.status == "mismatched" and "not the file" in row.detail
        assert project.video(moved).path == (media / "a.mp4").resolve()  # as recorded


def test_add_links_a_folder_named_like_an_annotation_only_video(project, tmp_path):
    frames = excerpt_frames()
    good = write_frames(tmp_path / "rgb-images" / BASKETBALL, frames[BASKETBALL])
    result = run_to_end(add_videos(project, [good]))
    assert (result.added, [(v.name, v.path) for v in result.linked]) == (
        [], [(BASKETBALL, good.resolve())])
    assert len(project.videos()) == 6
    assert project.video_by_name(BASKETBALL).path == good.resolve()
    # only the last component given: still that video, once the media fits
    short = write_frames(tmp_path / "v_Skijet_g10_c04", frames[SKIJET] + 1)
    with pytest.raises(VideoError, match=rf"names the annotation-only video '{SKIJET}' but has "
                                         rf"{frames[SKIJET] + 1} frames"):
        run_to_end(add_videos(project, [short]))
    assert project.video_by_name(SKIJET).path is None and len(project.videos()) == 6
    new = write_frames(tmp_path / "something_else", 4)
    assert len(run_to_end(add_videos(project, [new])).added) == 1


def test_a_moved_and_renamed_file_is_found_by_its_fingerprint(tmp_path):
    with Project.create(tmp_path / "p") as project:
        write_mp4(tmp_path / "a.mp4", n_frames=12, seed=4)
        write_mp4(tmp_path / "decoy.mp4", n_frames=12, seed=5)  # same length, other content
        (video_id,) = run_to_end(add_videos(project, [tmp_path / "a.mp4"])).added
        (tmp_path / "media" / "deep").mkdir(parents=True)
        shutil.move(tmp_path / "a.mp4", tmp_path / "media" / "deep" / "renamed.mp4")
        shutil.move(tmp_path / "decoy.mp4", tmp_path / "media" / "a_copy.mp4")
        (row,) = run_to_end(link_media(project, tmp_path / "media")).outcomes
        assert (row.status, row.path) == ("linked",
                                          (tmp_path / "media" / "deep" / "renamed.mp4").resolve())
        assert project.video(video_id).path == row.path


def test_a_read_only_project_is_refused_before_anything_is_probed(tmp_path):
    from halgui.core.errors import ProjectError

    import_excerpt(tmp_path).close()
    write_frames(tmp_path / "m" / BASKETBALL, excerpt_frames()[BASKETBALL])
    with Project.open(tmp_path / "p", read_only="a test") as project:
        with pytest.raises(ProjectError, match="read-only"):
            run_to_end(link_media(project, tmp_path / "m"))
        dry = run_to_end(link_media(project, tmp_path / "m", dry_run=True))
        assert dry.counts()["linked"] == 1 and project.video_by_name(BASKETBALL).path is None
