"""From a project's stored video to its frames: the record's fingerprint and probe are reused
(no file is hashed again), the frames are those of the file, and a file changed since it was
recorded is read as it is now."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import halgui.core.video as video_module
from halgui.core.al.data import ClipConfig
from halgui.core.al.dataset import cached_frames, clip_cache, load_frames
from halgui.core.al.rounds import RoundConfig, run_round
from halgui.core.al.train import TrainConfig
from halgui.core.clip_cache import ClipCache
from halgui.core.errors import VideoError
from halgui.core.frame_cache import FrameCache
from halgui.core.ingest import add_videos
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from halgui.core.video import open_video, probe
from halgui.core.video_source import VideoSource
from tests.core.test_video import index_of, write_folder, write_h264
from tests.core.videos import write_mp4

SIZE = 16  # clip-cache side: tiny, these tests are about which file is read, not the model


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("sources")
    return {"h264": write_h264(d / "long_gop.mp4", 60, gop=30),
            "mp4v": write_mp4(d / "a.mp4", n_frames=12),
            "folder": write_folder(d / "frames", 10)}


@pytest.fixture
def project(tmp_path, files):
    p = Project.create(tmp_path / "p")
    run_to_end(add_videos(p, list(files.values())))
    yield p
    p.close()


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """Every file or folder hashed from now on (each fingerprint hashes once)."""
    seen: list[str] = []

    def sha256(*args):
        seen.append("sha256")
        return hashlib.sha256(*args)

    monkeypatch.setattr(video_module, "hashlib", SimpleNamespace(sha256=sha256))
    return seen


def record(project: Project, path: Path):
    return next(v for v in project.videos() if v.path == path.resolve())


@pytest.mark.parametrize("name", ["h264", "mp4v", "folder"])
def test_frames_from_the_record_equal_decoding_the_file(project, files, name, hashes):
    rec = record(project, files[name])
    with FrameCache.for_record(rec, max_bytes=0) as cache:
        frames = [cache.get(i) for i in range(len(cache))]
        info = cache.info
    assert hashes == []
    assert info == probe(files[name].resolve())
    with open_video(files[name]) as reader:
        direct = [reader.read(i) for i in range(len(reader))]
    assert len(frames) == len(direct) == rec.n_frames
    assert all(np.array_equal(a, b) for a, b in zip(frames, direct, strict=True))
    if name != "mp4v":  # these carry their index as bars
        assert [index_of(f) for f in frames] == list(range(rec.n_frames))


def test_clip_cache_of_a_record_is_the_one_of_its_file(project, files, tmp_path, hashes):
    rec = record(project, files["h264"])
    cache = ClipCache(tmp_path / "clips")
    from_record = cache.frames(VideoSource.from_record(rec), SIZE)
    assert hashes == []
    # the file's own fingerprint names the same cache: nothing is built twice
    assert cache.path_for(files["h264"], SIZE) == cache.path_for(VideoSource.from_record(rec),
                                                                 SIZE)
    assert cache.has(files["h264"], SIZE) and cache.builds == 1
    fresh = ClipCache(tmp_path / "fresh").frames(files["h264"], SIZE)
    assert np.array_equal(np.asarray(from_record), np.asarray(fresh))


def test_a_round_does_not_hash_the_recorded_files_again(project, hashes):
    config = RoundConfig(train=TrainConfig(clip=ClipConfig(size=SIZE)))
    run_to_end(run_round(project, config, cold=True))  # builds the clip caches
    assert hashes == []  # each video was hashed once, when it was added; not again
    run_to_end(run_round(project, config, cold=True))  # finds them again
    assert hashes == []


def test_the_clip_caches_live_in_the_project_property_folder(project, hashes, monkeypatch):
    # a round must find its folder through the property: move it and see the caches follow
    monkeypatch.setattr(Project, "clip_cache_dir", property(lambda p: p.folder / "moved-clips"))
    config = RoundConfig(train=TrainConfig(clip=ClipConfig(size=SIZE)))
    run_to_end(run_round(project, config, cold=True))
    expected = sorted(f"{v.hash[:32]}-{v.size}-{SIZE}px-v1.npy" for v in project.videos())
    assert sorted(p.name for p in (project.folder / "moved-clips").iterdir()) == expected
    assert not (project.folder / "cache" / "clips").exists()
    for rec in project.videos():
        assert load_frames(clip_cache(project), rec, SIZE).shape == (rec.n_frames, SIZE, SIZE, 3)
    assert hashes == []


def test_a_file_changed_since_it_was_recorded_is_read_as_it_is_now(project, tmp_path, hashes):
    own = write_mp4(tmp_path / "own.mp4", n_frames=12, seed=9)
    run_to_end(add_videos(project, [own]))
    rec = record(project, own)
    hashes.clear()
    write_mp4(own, n_frames=20, seed=5)  # rewritten in place: another size
    source = VideoSource.from_record(rec)
    assert source.known is None and source.key != (rec.size, rec.hash)
    assert len(hashes) == 1  # its size differs: fingerprinted anew, once
    with FrameCache.for_record(rec, max_bytes=0) as cache, open_video(own) as reader:
        assert len(cache) == 20
        assert np.array_equal(cache.get(19), reader.read(19))
    cache_dir = tmp_path / "clips"
    frames = ClipCache(cache_dir).frames(VideoSource.from_record(rec), SIZE)
    assert frames.shape == (20, SIZE, SIZE, 3)  # a cache of the new content, under its own name
    assert [p.name for p in cache_dir.iterdir()] == [ClipCache(cache_dir).path_for(own, SIZE).name]


def test_unlinked_or_missing_files_are_errors_naming_them(project, tmp_path):
    vid = project.add_video("notes", path=None, width=64, height=48, n_frames=12)
    with pytest.raises(VideoError, match="notes: is not linked to a video file yet"):
        run_to_end(cached_frames(clip_cache(project), [project.video(vid)], SIZE))
    gone = write_mp4(tmp_path / "gone.mp4", n_frames=12, seed=3)
    run_to_end(add_videos(project, [gone]))
    gone.unlink()
    with pytest.raises(VideoError, match=r"gone\.mp4: does not exist"):
        FrameCache.for_record(record(project, gone))
    with pytest.raises(VideoError, match=r"gone\.mp4: does not exist"):
        load_frames(clip_cache(project), record(project, gone), SIZE)
