"""``halgui export`` and ``halgui import`` as a user runs them, on what used to lose data or end
in a traceback: an export into a folder holding other files or into the project itself, tube
formats that skip videos, and absurd numbers or control characters in an import."""

import json
from pathlib import Path

from tests.test_cli import halgui

GT = {"format": "halgui", "version": 1, "classes": [{"name": "walk"}], "videos": [
    {"name": "full", "path": None, "width": 64, "height": 48, "n_frames": 4,
     "labeled_frames": [[0, 3]], "tracks": [{"actor": 1, "class": "walk", "keyframes": [
         {"frame": 0, "box": [1, 1, 10, 10]}, {"frame": 3, "box": [2, 2, 12, 12]}]}]},
    {"name": "half", "path": None, "width": 64, "height": 48, "n_frames": 4,
     "labeled_frames": [[0, 1]], "tracks": []},
]}


def project(tmp_path: Path, gt: dict = GT, name: str = "p") -> Path:
    (tmp_path / f"{name}.json").write_text(json.dumps(gt))
    result = halgui("import", tmp_path / name, tmp_path / f"{name}.json", "--format", "halgui")
    assert result.returncode == 0, result.stderr
    return tmp_path / name


def one_error_line(result, *parts: str) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halgui: error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


def files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text(errors="replace")
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_export_keeps_the_users_files_and_never_the_project_folder(tmp_path):
    p = project(tmp_path)
    out = tmp_path / "out"
    (out / "keep" / "nested").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "keep" / "nested" / "deep.txt").write_text("deep")
    refused = halgui("export", p, out, "--format", "coco")
    one_error_line(refused, f"{out}: is not empty", "--overwrite")
    assert files(out) == {"keep/nested/deep.txt": "deep", "notes.txt": "mine"}

    done = halgui("export", p, out, "--format", "coco", "--overwrite")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"wrote {out} (2 videos)"
    after = files(out)
    assert after.pop("notes.txt") == "mine" and after.pop("keep/nested/deep.txt") == "deep"
    assert list(after) == ["annotations/instances_train.json"]

    before = files(p)
    for fmt, target in (("coco", p), ("yolo", p / "models"), ("halgui", p / "labels.json")):
        for flags in ((), ("--overwrite",)):
            one_error_line(halgui("export", p, target, "--format", fmt, *flags),
                           "project folder", f"{p / 'exports'}")
    assert files(p) == before
    info = halgui("info", p, "--json")
    assert info.returncode == 0, info.stderr
    assert json.loads(info.stdout)["keyframe_boxes"] == 2
    fine = halgui("export", p, p / "exports" / "first", "--format", "yolo")
    assert fine.returncode == 0, fine.stderr


def test_bad_output_paths_are_one_line(tmp_path):
    p = project(tmp_path)
    a_file = tmp_path / "a_file.json"
    a_file.write_text("{}")
    one_error_line(halgui("export", p, a_file, "--format", "halgui"),
                   f"{a_file}: already exists", "--overwrite")
    one_error_line(halgui("export", p, a_file, "--format", "cvat"),
                   f"{a_file}: is a file, but this format writes a folder")
    one_error_line(halgui("export", p, a_file / "sub" / "x.json", "--format", "halgui"),
                   f"{a_file}: is a file")
    assert a_file.read_text() == "{}"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["a_file.json", "p", "p.json"]


def test_tube_exports_say_what_they_skipped_and_writing_nothing_is_an_error(tmp_path):
    p = project(tmp_path)
    done = halgui("export", p, tmp_path / "gt.pkl", "--format", "act")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (f"wrote {tmp_path / 'gt.pkl'} (1 video; skipped 1 (not "
                                   "labeled on every frame): half)")
    half_only = {**GT, "videos": GT["videos"][1:]}
    q = project(tmp_path, half_only, "q")
    for fmt, out in (("ucf24", tmp_path / "u"), ("act", tmp_path / "a.pkl")):
        one_error_line(halgui("export", q, out, "--format", fmt),
                       f"{out}: nothing to write", "none of the 1 video(s)")
        assert not out.exists()


def test_absurd_numbers_and_control_characters_in_an_import_are_one_line(tmp_path):
    for i, (change, expected) in enumerate([
        (lambda v: v.update(n_frames=10**30), "videos[0].n_frames: must be at most"),
        (lambda v: v["tracks"].append(v["tracks"][0]), "actor 1 has the same 'walk' track"),
        (lambda v: v.update(name="full\nname"), "video name 'full\\nname' contains the control"),
    ]):
        gt = json.loads(json.dumps(GT))
        change(gt["videos"][0])
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(gt))
        one_error_line(halgui("import", tmp_path / f"p{i}", path, "--format", "halgui"),
                       f"{path}: ", expected)
        assert not (tmp_path / f"p{i}").exists()  # the failed import left no project
