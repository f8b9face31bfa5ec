"""An export never deletes or replaces a file it did not write: for every format, OUT that holds
other files is refused (or, with ``overwrite``, only the files the export writes are replaced),
a project folder is refused, and a bad path or a failing disk is one ExportError with nothing
left behind."""

from __future__ import annotations

import dataclasses
import errno
from pathlib import Path

import pytest

from halgui.core import formats
from halgui.core.formats.common import ExportError, ExportExists, ExportOptions
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import summary
from tests.core.formats.pickle_fixtures import make_project

FOLDER_FORMATS = ["coco", "cvat", "mot", "yolo", "ava", "ucf24"]
FILE_FORMATS = {"halgui": ".json", "act": ".pkl"}
ALL = FOLDER_FORMATS + list(FILE_FORMATS)


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory):
    """Three fully labeled, annotation-only videos: every format writes all three."""
    with make_project(tmp_path_factory.mktemp("src") / "p") as p:
        return p.snapshot()


def export(name, snapshot, out, **options):
    return run_to_end(formats.get(name).export_labels(snapshot, out, ExportOptions(**options)))


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its content, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_every_format_declares_what_it_writes():
    for name in formats.FORMATS:
        module = formats.get(name)
        expected = "file" if name in FILE_FORMATS else "folder"
        target = module.TARGET
        assert target == expected, name


@pytest.mark.parametrize("name", FOLDER_FORMATS)
def test_a_folder_with_other_files_is_refused_and_overwrite_replaces_only_the_exports_files(
        tmp_path, snapshot, name):
    out = tmp_path / "out"
    written = export(name, snapshot, out)
    assert written.path == out and written.videos == 3
    exported = tree(out)
    # the user's own files: at the top, nested, and inside a folder the export writes into
    inner = next((p for p in sorted(out.rglob("*")) if p.is_dir()), out)
    mine = {out / "notes.txt": b"mine", out / "keep" / "nested" / "deep.txt": b"deep",
            inner / "user.txt": b"inside"}
    for path, data in mine.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    stale = next(iter(exported))
    (out / stale).write_bytes(b"stale")
    before = tree(out)

    with pytest.raises(ExportExists, match=rf"^{out}: is not empty: .*--overwrite"):
        export(name, snapshot, out)
    assert tree(out) == before

    assert export(name, snapshot, out, overwrite=True).path == out
    after = tree(out)
    for path, data in mine.items():
        assert after.pop(path.relative_to(out).as_posix()) == data
    assert after.keys() == exported.keys()
    if name not in ("cvat",):  # cvat's XML holds the export time
        assert after == exported  # the stale file is the export's again
    assert after[stale] != b"stale"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary folder left


@pytest.mark.parametrize("name", FOLDER_FORMATS)
def test_a_folder_of_only_other_files_is_refused(tmp_path, snapshot, name):
    out = tmp_path / "mine"
    (out / "nested").mkdir(parents=True)
    (out / "nested" / "deep.txt").write_text("deep")
    with pytest.raises(ExportExists, match=rf"^{out}: is not empty"):
        export(name, snapshot, out)
    assert tree(out) == {"nested/deep.txt": b"deep"}
    assert [p.name for p in tmp_path.iterdir()] == ["mine"]


@pytest.mark.parametrize("name", ALL)
def test_an_empty_folder_is_written_into(tmp_path, snapshot, name):
    out = tmp_path / "out"
    out.mkdir()
    target = out / "labels" if name in FILE_FORMATS else out
    assert export(name, snapshot, target).path == target
    assert tree(out) and not any(p.name.startswith(".") for p in out.rglob("*"))


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("where", ["", "models", "cache/deep", "exports/../models"])
def test_a_project_folder_is_refused_and_the_project_still_opens(tmp_path, name, where):
    with make_project(tmp_path / "p") as p:
        expected = summary(p.snapshot())
        snapshot = p.snapshot()
    before = tree(tmp_path / "p")
    out = tmp_path / "p" / where if where else tmp_path / "p"
    if name in FILE_FORMATS:
        out = out / f"labels{FILE_FORMATS[name]}"
    for overwrite in (False, True):
        with pytest.raises(ExportError, match=r"(is|inside) the project folder.*: export to a "
                                              r"folder under .*exports"):
            export(name, snapshot, out, overwrite=overwrite)
    assert tree(tmp_path / "p") == before
    with Project.open(tmp_path / "p") as p:
        assert summary(p.snapshot()) == expected


@pytest.mark.parametrize("name", ALL)
def test_the_projects_exports_folder_is_allowed(tmp_path, name):
    with make_project(tmp_path / "p") as p:
        snapshot = p.snapshot()
    out = tmp_path / "p" / "exports" / f"2026-12-03_1530-{name}{FILE_FORMATS.get(name, '')}"
    assert export(name, snapshot, out).path == out
    with Project.open(tmp_path / "p") as p:
        assert len(p.videos()) == 3


@pytest.mark.parametrize("name", FILE_FORMATS)
def test_an_existing_file_is_refused_unless_overwrite(tmp_path, snapshot, name):
    out = tmp_path / f"labels{FILE_FORMATS[name]}"
    out.write_bytes(b"the user's file")
    with pytest.raises(ExportExists, match=rf"^{out}: already exists: .*--overwrite"):
        export(name, snapshot, out)
    assert out.read_bytes() == b"the user's file"
    export(name, snapshot, out, overwrite=True)
    assert out.read_bytes() != b"the user's file" and out.stat().st_size > 100
    assert [p.name for p in tmp_path.iterdir()] == [out.name]


@pytest.mark.parametrize("name", ALL)
def test_impossible_paths_are_one_error_naming_the_path(tmp_path, snapshot, name):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    a_folder = tmp_path / "a_folder"
    a_folder.mkdir()
    cases = [(a_file / "sub" / "out", rf"^{a_file}: is a file, so .* cannot be created")]
    if name in FILE_FORMATS:
        cases.append((a_folder, rf"^{a_folder}: is a folder, but this format writes one file"))
    else:
        cases.append((a_file, rf"^{a_file}: is a file, but this format writes a folder"))
    for out, message in cases:
        for overwrite in (False, True):
            with pytest.raises(ExportError, match=message):
                export(name, snapshot, out, overwrite=overwrite)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "a_folder"]
    assert a_file.read_text() == "x" and not any(a_folder.iterdir())


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("existing", [False, True])
def test_a_full_disk_is_one_error_and_leaves_nothing(tmp_path, snapshot, name, monkeypatch,
                                                     existing):
    """The disk fills up when the export puts its files in place: one ExportError naming the
    file, and no partial output (missing parent folders it created are removed too)."""
    import os

    suffix = FILE_FORMATS.get(name, "")
    out = tmp_path / "new" / "deeper" / f"out{suffix}"
    if existing:  # into an existing folder of an earlier export, or over an existing file
        out = tmp_path / "old" / f"out{suffix}"
        export(name, snapshot, out)
    before = tree(tmp_path)
    renames = []

    def disk_full(src, dst, *args, **kwargs):
        renames.append(dst)
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(os, "replace", disk_full)
    monkeypatch.setattr(os, "rename", disk_full)
    with pytest.raises(ExportError, match=r": cannot be written \(No space left on device\)"):
        export(name, snapshot, out, overwrite=True)
    assert renames
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == (["old"] if existing else [])
    if existing:
        assert sorted(p.name for p in (tmp_path / "old").iterdir()) == [out.name]


def test_a_failure_midway_removes_the_files_it_added_and_keeps_the_users(tmp_path, snapshot,
                                                                         monkeypatch):
    """Into an existing folder, files go in one rename each: when one fails, those already
    added are removed again and the user's files are untouched."""
    import os

    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    real = os.replace
    done = []

    def fail_third(src, dst, *args, **kwargs):
        if len(done) == 2:
            raise OSError(errno.EIO, "Input/output error", str(dst))
        done.append(dst)
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", fail_third)
    with pytest.raises(ExportError, match=r"cannot be written \(Input/output error\)"):
        export("yolo", snapshot, out, overwrite=True)
    assert len(done) == 2
    assert tree(out) == {"notes.txt": b"mine"}
    assert [p.name for p in out.iterdir()] == ["notes.txt"]


@pytest.mark.parametrize("name", ["ucf24", "act"])
def test_tube_formats_say_which_videos_they_skipped_and_refuse_to_write_none(tmp_path, name):
    with make_project(tmp_path / "p", fully_labeled=False) as p:
        snapshot = p.snapshot()
    suffix = FILE_FORMATS.get(name, "")
    written = export(name, snapshot, tmp_path / f"out{suffix}")
    assert (written.videos, written.skipped) == (2, ("clip_a",))
    assert written.describe() == (f"wrote {tmp_path / f'out{suffix}'} (2 videos; skipped 1 "
                                  "(not labeled on every frame): clip_a)")
    with pytest.raises(ExportError, match=rf"^{tmp_path / 'none'}{suffix}: nothing to write: "
                                          r".*none of the 1 video\(s\) is"):
        export(name, snapshot, tmp_path / f"none{suffix}", split="train")
    with pytest.raises(ExportError, match=r"nothing to write: no video is chosen"):
        export(name, dataclasses.replace(snapshot, videos=()), tmp_path / f"none{suffix}")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["p", f"out{suffix}"])
