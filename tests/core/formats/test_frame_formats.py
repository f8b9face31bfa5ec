"""What coco, cvat, mot and yolo share: atomic output, cancelling, names that are not file
names, and the helpers of ``_frames``."""

import pytest

from halgui.core.errors import Cancelled
from halgui.core.formats import _frames, coco, common, cvat, mot, yolo
from halgui.core.formats.common import ExportOptions
from halgui.core.progress import CancelFlag, run_to_end
from halgui.core.project import Project
from tests.core.formats.conftest import kf

MODULES = [coco, cvat, mot, yolo]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_a_cancelled_export_leaves_the_previous_output_alone(tmp_path, snapshot, module):
    out = run_to_end(module.export_labels(snapshot, tmp_path / "out")).path
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    flag = CancelFlag()
    work = module.export_labels(snapshot, out, ExportOptions(pseudo_labels=True, overwrite=True),
                                flag)
    next(work)
    flag.cancel()
    with pytest.raises(Cancelled):
        run_to_end(work)
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "source"]  # no temp left


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_video_names_that_are_not_file_names_round_trip(tmp_path, module):
    names = ["a/b", "A_B", "a_b", "..", "ünï côdé"]
    with Project.create(tmp_path / "a") as a:
        walk = a.add_class("walk")
        for i, name in enumerate(names):
            video = a.add_video(name, path=None, width=100, height=50, n_frames=10)
            a.set_keyframes(a.add_track(video, walk, 1), [kf(i, (1, 2, 30, 40))])
        out = run_to_end(module.export_labels(a.snapshot(), tmp_path / "out")).path
    with Project.create(tmp_path / "b") as b:
        run_to_end(module.import_labels(b, out))
        assert sorted(v.name for v in b.videos()) == sorted(names)
        for i, name in enumerate(names):
            (track,) = b.tracks(b.video_by_name(name).id)
            assert [k.frame for k in track.keyframes] == [i]


def test_safe_names_are_unique_ignoring_case():
    safe = common.safe_names(["a/b", "A_B", "a_b", "..", "", "x" * 300])
    assert list(safe.values()) == ["a_b", "A_B_2", "a_b_3", "video", "video_2", "x" * 100]


def test_ranges_read_and_write():
    assert _frames.format_ranges([7, 0, 1, 2, 3, 9]) == "0-3 7 9"
    assert _frames.parse_ranges("0-3 7 9", 10) == [0, 1, 2, 3, 7, 9]
    for bad in ("3-1", "0-10", "x", "1-", "-1"):
        with pytest.raises(ValueError):
            _frames.parse_ranges(bad, 10)


def test_numbers_are_written_without_exponent_or_trailing_zeros():
    assert [_frames.num(v) for v in (2.0, 2.5, 1e-7, 10.1234, -0.0001)] == [
        "2", "2.5", "0", "10.123", "0"]
