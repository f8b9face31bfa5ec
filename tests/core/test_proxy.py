"""Proxies on real files: long-GOP H.264 with B-frames and a variable frame rate, written by
PyAV, re-encoded by the proxy builder and read back frame by frame against the source decoded
front to back. Frames carry their index as bars (see test_video.pattern)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from halgui.core.errors import Cancelled
from halgui.core.frame_cache import FrameCache
from halgui.core.ingest import add_videos
from halgui.core.progress import CancelFlag, run_to_end, run_with_events
from halgui.core.project import Project
from halgui.core.proxy import (
    ProxyConfig,
    ProxyError,
    ProxySettings,
    ProxyStore,
    build_proxies,
    proxy_size,
    wanted_proxies,
)
from halgui.core.video import open_video
from halgui.core.video_source import VideoSource
from tests.core.test_video import H, W, decode_all, index_of, write_h264

SMALL = ProxyConfig(height=60)  # 160x120 sources become 80x60 proxies: the resize is tested


@pytest.fixture(scope="module")
def vfr_video(tmp_path_factory) -> Path:
    """101 frames (odd), keyframes 60 apart, 3 B-frames, 33 ms and 66 ms frame stretches."""
    d = tmp_path_factory.mktemp("proxy_src")
    return write_h264(d / "vfr_long_gop.mp4", 101, gop=60, bframes=3, vfr=True)


def _store(tmp_path: Path, budget: int = 1 << 30, config: ProxyConfig = SMALL) -> ProxyStore:
    return ProxyStore(tmp_path / "proxies", budget, config)


def _project(tmp_path: Path, *paths: Path) -> Project:
    project = Project.create(tmp_path / "project")
    run_to_end(add_videos(project, list(paths)))
    return project


def test_proxy_frame_i_is_source_frame_i(vfr_video, tmp_path):
    store = _store(tmp_path)
    source = VideoSource.from_path(vfr_video)
    events, path = run_with_events(store.build(source))
    assert path.is_file() and store.has(source)
    assert events[-1].done == events[-1].total == 101
    reference = decode_all(vfr_video)  # front to back: the ground truth
    assert len(reference) == 101
    reader = store.open(source)
    assert reader is not None
    with reader:
        assert (reader.info.width, reader.info.height) == proxy_size(W, H, SMALL) == (80, 60)
        assert len(reader) == len(reference)
        import cv2

        for i in [*range(101), *np.random.default_rng(2).integers(0, 101, 40)]:
            frame = reader.read(int(i))
            assert index_of(frame) == index_of(reference[i]) == i
            # The picture too, not only the bars: nearer to source frame i than to its
            # neighbours (the texture pans 2 px a frame).
            errors = {j: np.abs(cv2.resize(reference[j], (80, 60), interpolation=cv2.INTER_AREA)
                                .astype(int) - frame).mean()
                      for j in (i - 1, i, i + 1) if 0 <= j < 101}
            assert min(errors, key=errors.get) == i


def test_source_keeps_its_size_when_small_and_sizes_are_even():
    assert proxy_size(160, 120) == (160, 120)
    assert proxy_size(1920, 1080) == (960, 540)
    assert proxy_size(1080, 1920) == (304, 540)
    assert proxy_size(641, 359) == (640, 358)


def test_frame_cache_uses_the_proxy_once_built_and_the_source_before(vfr_video, tmp_path):
    project = _project(tmp_path, vfr_video)
    store = ProxyStore.for_project(project, SMALL)
    (video,) = project.videos()
    assert [name for name, _ in wanted_proxies(project, store)] == [video.name]
    with FrameCache.for_record(video, proxies=store) as before:
        assert not before.proxy and before.get(7).shape == (H, W, 3)
    report = run_to_end(build_proxies(store, wanted_proxies(project, store)))
    assert report is not None and report.built == [video.name] and not report.failed
    assert wanted_proxies(project, store) == []
    assert store.has(VideoSource.from_record(video))
    assert store.folder == project.folder / "cache" / "proxies"
    with FrameCache.for_record(video, proxies=store) as after:
        assert after.proxy and len(after) == 101
        assert after.get(57).shape == (60, 80, 3) and index_of(after.get(57)) == 57
    project.close()


def test_changed_video_gets_a_new_proxy(tmp_path):
    path = write_h264(tmp_path / "v.mp4", 31, gop=30)
    store = _store(tmp_path)
    run_to_end(store.build(VideoSource.from_path(path)))
    write_h264(path, 33, gop=30)  # a different file at the same path
    changed = VideoSource.from_path(path)
    assert not store.has(changed) and store.open(changed) is None
    run_to_end(store.build(changed))
    reader = store.open(changed)
    assert reader is not None
    with reader:
        assert len(reader) == 33


def test_proxy_with_the_wrong_count_is_dropped_not_used(tmp_path):
    path = write_h264(tmp_path / "v.mp4", 31, gop=30)
    project = _project(tmp_path, path)
    store = ProxyStore.for_project(project, SMALL)
    (video,) = project.videos()
    built = run_to_end(store.build(VideoSource.from_record(video)))
    other = write_h264(tmp_path / "other.mp4", 20, gop=30)
    run_to_end(store.build(VideoSource.from_path(other), None))
    other_proxy = next(p for p, _ in store.usage() if p != built)
    shutil.copyfile(other_proxy, built)  # a proxy that no longer matches its video
    assert store.open(VideoSource.from_record(video)) is None
    assert not built.exists()
    with FrameCache.for_record(video, proxies=store) as frames:
        assert not frames.proxy and index_of(frames.get(30)) == 30
    project.close()


@pytest.mark.parametrize("guess", ["right", "too low"])
def test_budget_evicts_least_recently_used_and_refuses_what_cannot_fit(tmp_path, guess):
    paths = [write_h264(tmp_path / f"v{k}.mp4", 40, gop=40 - k) for k in range(3)]
    probe_store = _store(tmp_path / "probe", config=ProxyConfig())
    run_to_end(probe_store.build(VideoSource.from_path(paths[0])))
    size = probe_store.total_bytes()  # 160x120 (kept size): a few KiB
    assert size > 0
    # Room for two and a half. The builder's guess of a proxy's size makes room before it
    # starts; a guess too low is caught as the proxy grows.
    config = ProxyConfig(bytes_per_pixel=size / (W * H * 40) if guess == "right" else 1e-9)
    budget = 2 * size + size // 2
    store = _store(tmp_path, budget=budget, config=config)
    sources = [VideoSource.from_path(p) for p in paths]
    for source in sources[:2]:
        run_to_end(store.build(source))
        os.utime(store.path_for(source, open_video(source.path).info), (1, 1))  # oldest first
    reader = store.open(sources[1])  # used now: evicted last
    assert reader is not None
    reader.close()
    run_to_end(store.build(sources[2]))
    assert [store.has(s) for s in sources] == [False, True, True]
    assert store.total_bytes() <= budget
    tiny = _store(tmp_path / "tiny", budget=1000, config=config)
    with pytest.raises(ProxyError, match="disk budget of 0 MiB"):
        run_to_end(tiny.build(sources[0]))
    assert not list(tiny.folder.iterdir())


def test_cancelled_build_leaves_nothing(vfr_video, tmp_path):
    store = _store(tmp_path)
    cancel = CancelFlag()
    work = store.build(VideoSource.from_path(vfr_video), cancel)
    next(work)
    next(work)
    cancel.cancel()
    with pytest.raises(Cancelled):
        run_to_end(work)
    assert list(store.folder.iterdir()) == []


def test_failed_build_names_the_reason_and_the_source_still_works(vfr_video, tmp_path):
    project = _project(tmp_path, vfr_video)
    (video,) = project.videos()
    store = ProxyStore.for_project(project, SMALL)
    store.folder.parent.mkdir(parents=True, exist_ok=True)
    store.folder.write_text("a file where the proxy folder should be")
    report = run_to_end(build_proxies(store, wanted_proxies(project, store)))
    assert report is not None and report.built == []
    assert f"cannot write to {store.folder}" in report.failed[video.name]
    with FrameCache.for_record(video, proxies=store) as frames:
        assert not frames.proxy and index_of(frames.get(99)) == 99
    project.close()


def test_undecodable_source_is_a_proxy_error_naming_it(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\0" * 5000)
    store = _store(tmp_path)
    source = VideoSource(bad, 5000, "0" * 64)
    with pytest.raises(ProxyError, match=r"bad\.mp4: no proxy"):
        run_to_end(store.build(source))


def test_settings_round_trip_and_bad_values_fall_back(tmp_path):
    with Project.create(tmp_path / "p") as project:
        assert ProxySettings.load(project) == ProxySettings()
        ProxySettings(enabled=False, budget_mib=100).save(project)
        assert ProxySettings.load(project) == ProxySettings(False, 100)
        assert ProxyStore.for_project(project).budget_bytes == 100 << 20
        project.set_setting("proxy", {"enabled": "yes", "budget_mib": -3})
        assert ProxySettings.load(project) == ProxySettings()
        with pytest.raises(ValueError, match="budget_mib"):
            ProxySettings(budget_mib=-1)


def test_setting_off_wants_no_proxies(vfr_video, tmp_path):
    project = _project(tmp_path, vfr_video)
    ProxySettings(enabled=False).save(project)
    assert wanted_proxies(project) == []
    project.close()


def test_proxies_of_changed_videos_are_pruned_when_the_project_looks(tmp_path):
    path = write_h264(tmp_path / "v.mp4", 31, gop=30)
    project = _project(tmp_path, path)
    store = ProxyStore.for_project(project, SMALL)
    run_to_end(build_proxies(store, wanted_proxies(project, store)))
    (old,) = store.usage()
    write_h264(path, 33, gop=30)  # changed on disk, then relinked (new fingerprint stored)
    (video,) = project.videos()
    project.link_video(video.id, path, *VideoSource.from_path(path).key)
    todo = wanted_proxies(project, store)
    assert [name for name, _ in todo] == [video.name]
    assert not old[0].exists() and store.usage() == []
    project.close()


def test_a_file_changed_but_not_relinked_keeps_its_new_proxy(tmp_path):
    path = write_h264(tmp_path / "v.mp4", 31, gop=30)
    project = _project(tmp_path, path)
    store = ProxyStore.for_project(project, SMALL)
    write_h264(path, 33, gop=30)  # the record still has the old size and print
    report = run_to_end(build_proxies(store, wanted_proxies(project, store)))
    assert report is not None and len(report.built) == 1
    assert wanted_proxies(project, store) == [] and len(store.usage()) == 1
    project.close()


def test_frame_folder_with_odd_sides_gets_an_exact_proxy(tmp_path):
    import cv2

    from tests.core.test_video import pattern

    folder = tmp_path / "frames"
    folder.mkdir()
    for i in range(13):
        image = cv2.resize(pattern(i), (161, 121), interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(str(folder / f"f{i}.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    store = _store(tmp_path)
    source = VideoSource.from_path(folder)
    run_to_end(store.build(source))
    reader = store.open(source)
    assert reader is not None
    with reader:
        assert (reader.info.width, reader.info.height, len(reader)) == (80, 60, 13)
        assert [index_of(reader.read(i)) for i in (12, 0, 7, 6)] == [12, 0, 7, 6]


def test_encoder_failure_is_a_proxy_error_and_leaves_nothing(vfr_video, tmp_path):
    store = _store(tmp_path, config=ProxyConfig(codec="no-such-encoder"))
    with pytest.raises(ProxyError, match="no proxy: the encoder failed"):
        run_to_end(store.build(VideoSource.from_path(vfr_video)))
    assert list(store.folder.iterdir()) == []
