"""Video access on real files: OpenCV mp4v/MJPG, PyAV long-GOP H.264 with B-frames, frame
folders and real footage (tests/data/vtest_60.avi). Every test frame carries its own index as
big black/white bars, so a read can be checked against the index it was asked for."""

from __future__ import annotations

import itertools
import shutil
import struct
import subprocess
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from halgui.core.clip_cache import ClipCache
from halgui.core.errors import Cancelled, VideoError
from halgui.core.frame_cache import FrameCache
from halgui.core.progress import CancelFlag, run_to_end, run_with_events
from halgui.core.video import (
    FrameRangeError,
    VideoConfig,
    fingerprint,
    is_frame_folder,
    open_video,
    probe,
)

DATA = Path(__file__).resolve().parents[1] / "data"
BITS = 10
W, H = 160, 120
_TEXTURE = cv2.GaussianBlur(
    np.random.default_rng(7).integers(0, 256, (H, 2 * W, 3), dtype=np.uint8), (5, 5), 0
)


def pattern(i: int, w: int = W, h: int = H) -> np.ndarray:
    """RGB frame i: its index in BITS bars over the top third, a panning texture below."""
    frame = np.empty((h, w, 3), np.uint8)
    shift = (2 * i) % W
    frame[:] = cv2.resize(_TEXTURE[:, shift:shift + W], (w, h))
    bar = w // BITS
    for b in range(BITS):
        frame[: h // 3, b * bar:(b + 1) * bar] = 255 if (i >> b) & 1 else 0
    return frame


def index_of(frame: np.ndarray) -> int:
    """Read the index back from a (possibly compressed or resized) frame."""
    h, w = frame.shape[:2]
    bar = w / BITS
    bits = [
        frame[h // 12: h // 4, int(b * bar + bar / 4): int((b + 1) * bar - bar / 4)].mean() > 128
        for b in range(BITS)
    ]
    return sum(1 << b for b, on in enumerate(bits) if on)


def write_cv(path: Path, fourcc: str, n: int, fps: float = 25.0) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (W, H))
    assert writer.isOpened(), path
    for i in range(n):
        writer.write(cv2.cvtColor(pattern(i), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def write_h264(path: Path, n: int, *, gop: int = 150, bframes: int = 3, fps: int = 30,
               container_options: dict | None = None, vfr: bool = False) -> Path:
    """Long-GOP H.264 (libx264) with B-frames, written by PyAV."""
    with av.open(str(path), "w", options=container_options or {}) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.gop_size, stream.max_b_frames = gop, bframes
        stream.options = {"preset": "veryfast", "crf": "20", "scenecut": "0"}
        if vfr:
            stream.time_base = stream.codec_context.time_base = Fraction(1, 1000)
        t = 0
        for i in range(n):
            frame = av.VideoFrame.from_ndarray(pattern(i), format="rgb24")
            if vfr:  # stretches of 33 ms and 66 ms frames
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                t += 33 if (i // 20) % 2 == 0 else 66
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def decode_all(path: Path) -> list[np.ndarray]:
    """Every frame by plain front-to-back PyAV decoding: the reference for random access."""
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def write_folder(path: Path, n: int) -> Path:
    path.mkdir()
    order = np.random.default_rng(3).permutation(n)  # written out of order on purpose
    for i in order:
        bgr = cv2.cvtColor(pattern(int(i)), cv2.COLOR_RGB2BGR)
        cv2.imwrite(str(path / f"frame{i + 1}.png"), bgr)
    (path / "notes.txt").write_text("not a frame")
    return path


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("videos")
    return {
        "h264": write_h264(d / "long_gop.mp4", 300),
        "h264_mkv": write_h264(d / "long_gop.mkv", 200, gop=120),
        "mp4v": write_cv(d / "cv.mp4", "mp4v", 90),
        "mjpg": write_cv(d / "cv.avi", "MJPG", 60, fps=10.0),
        "folder": write_folder(d / "frames", 24),
    }


EXPECTED = {  # n_frames, fps, kind
    "h264": (300, 30.0, "file"),
    "h264_mkv": (200, 30.0, "file"),
    "mp4v": (90, 25.0, "file"),
    "mjpg": (60, 10.0, "file"),
    "folder": (24, VideoConfig().frames_fps, "frames"),
}


# ------------------------------------------------------------------------------ probe and read


@pytest.mark.parametrize("name", list(EXPECTED))
def test_probe_reports_true_count_and_size(videos, name):
    info = probe(videos[name])
    n, fps, kind = EXPECTED[name]
    assert (info.width, info.height, info.n_frames, info.kind) == (W, H, n, kind)
    assert info.fps == pytest.approx(fps)
    assert info.path == videos[name]


@pytest.mark.parametrize("name", list(EXPECTED))
def test_sequential_read_returns_every_frame_in_order(videos, name):
    with open_video(videos[name]) as reader:
        frames = [reader.read(i) for i in range(len(reader))]
    assert all(f.shape == (H, W, 3) and f.dtype == np.uint8 for f in frames)
    assert [index_of(f) for f in frames] == list(range(len(frames)))


@pytest.mark.parametrize("name", ["h264", "h264_mkv", "mp4v"])
def test_random_access_is_frame_exact_on_inter_coded_files(videos, name):
    sequential = decode_all(videos[name])
    rng = np.random.default_rng(11)
    with open_video(videos[name]) as reader:
        order = [int(i) for i in rng.integers(0, len(sequential), 150)]
        order += list(range(len(sequential) - 1, len(sequential) - 40, -1))  # stepping back
        for i in order:
            frame = reader.read(i)
            assert index_of(frame) == i
            assert np.array_equal(frame, sequential[i]), f"frame {i} differs from sequential decode"


@pytest.fixture(scope="module")
def h264_reader(videos):
    with open_video(videos["h264"]) as reader:
        yield reader


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(0, 299), min_size=1, max_size=12))
def test_any_sequence_of_reads_is_exact(h264_reader, indices):
    for i in indices:
        assert index_of(h264_reader.read(i)) == i


@pytest.mark.parametrize("name", ["h264", "mjpg", "folder"])
def test_open_with_known_info_skips_counting_and_reads_the_same(videos, name):
    info = probe(videos[name])
    with open_video(videos[name], known=info) as reader:
        assert reader.info == info
        for i in (len(reader) - 1, 0, len(reader) // 2):
            assert index_of(reader.read(i)) == i


def test_out_of_range_is_an_index_error_naming_the_file(videos):
    with open_video(videos["mp4v"]) as reader:
        for bad in (-1, 90, 10_000):
            with pytest.raises(FrameRangeError, match=r"cv\.mp4") as caught:
                reader.read(bad)
            assert isinstance(caught.value, IndexError) and isinstance(caught.value, VideoError)


def test_iter_frames_resizes(videos):
    with open_video(videos["h264"]) as reader:
        small = list(reader.iter_frames(10, 20, size=64))
    assert len(small) == 10 and all(f.shape == (64, 64, 3) for f in small)
    assert [index_of(f) for f in small] == list(range(10, 20))


def test_frame_folder_is_sorted_naturally_and_ignores_other_files(videos):
    assert is_frame_folder(videos["folder"]) and not is_frame_folder(videos["mp4v"])
    with open_video(videos["folder"]) as reader:
        assert [index_of(reader.read(i)) for i in (0, 1, 9, 10, 23)] == [0, 1, 9, 10, 23]


def test_frame_of_another_size_in_a_folder_names_that_frame(tmp_path):
    folder = write_folder(tmp_path / "frames", 5)
    cv2.imwrite(str(folder / "frame4.png"), np.zeros((10, 10, 3), np.uint8))
    with open_video(folder) as reader, pytest.raises(VideoError, match=r"frame4\.png"):
        reader.read(3)


def test_header_that_lies_about_the_count_is_counted_by_decoding(videos, tmp_path):
    data = bytearray(videos["mjpg"].read_bytes())
    for chunk, offset in ((b"avih", 8 + 16), (b"strh", 8 + 32)):  # total frames, stream length
        at = data.find(chunk)
        assert struct.unpack_from("<I", data, at + offset)[0] == 60
        struct.pack_into("<I", data, at + offset, 444)
    lying = tmp_path / "lying.avi"
    lying.write_bytes(data)
    with av.open(str(lying)) as container:
        assert container.streams.video[0].frames == 444
    assert probe(lying).n_frames == 60


def test_variable_frame_rate_is_read_exactly(tmp_path):
    path = write_h264(tmp_path / "vfr.mp4", 100, gop=40, bframes=2, vfr=True)
    for known in (None, probe(path)):
        with open_video(path, known=known) as reader:
            assert len(reader) == 100
            for i in [*range(100), *np.random.default_rng(5).integers(0, 100, 60)]:
                assert index_of(reader.read(int(i))) == i


def test_real_footage_probe_and_random_access():
    path = DATA / "vtest_60.avi"
    info = probe(path)
    assert (info.width, info.height, info.fps, info.n_frames) == (768, 576, 10.0, 60)
    sequential = decode_all(path)
    with open_video(path) as reader:
        assert np.array_equal(np.stack(list(reader.iter_frames())), np.stack(sequential))
        for i in [59, 0, 31, 30, 58, 3, 45, 44, 12, 59]:
            assert np.array_equal(reader.read(i), sequential[i])
    diffs = [np.abs(a.astype(int) - b).mean() for a, b in itertools.pairwise(sequential)]
    assert min(diffs) > 0.1  # people walk: consecutive frames differ


# ---------------------------------------------------------------------------------- bad input


def _cut_in_half(src: Path, dst: Path) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: len(data) // 2])
    return dst


def _zero_frame_avi(path: Path) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25.0, (W, H))
    assert writer.isOpened()
    writer.release()
    return path


BAD = {
    "missing": (lambda d, v: d / "nowhere.mp4", "does not exist"),
    "empty folder": (lambda d, v: (d / "empty").mkdir() or d / "empty", "no frame images"),
    "text named .mp4": (
        lambda d, v: (d / "notes.mp4").write_text("hello") and d / "notes.mp4", "not a readable"
    ),
    "truncated mp4": (lambda d, v: _cut_in_half(v["mp4v"], d / "half.mp4"), "truncated"),
    "truncated faststart h264": (
        lambda d, v: _cut_in_half(
            write_h264(d / "fs.mp4", 120, container_options={"movflags": "faststart"}),
            d / "half_fs.mp4",
        ),
        "truncated",
    ),
    "truncated avi": (lambda d, v: _cut_in_half(v["mjpg"], d / "half.avi"), "truncated"),
    "zero frames": (lambda d, v: _zero_frame_avi(d / "zero.avi"), "no video frames"),
    "unsupported": (
        lambda d, v: (d / "clip.xyz").write_bytes(b"\0" * 64) and d / "clip.xyz", "unsupported"
    ),
    "single image": (lambda d, v: next(v["folder"].glob("*.png")), "single image"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_input_raises_video_error_naming_the_file(videos, tmp_path, case):
    make, reason = BAD[case]
    path = make(tmp_path, videos)
    with pytest.raises(VideoError) as caught:
        probe(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and reason in message, message


# -------------------------------------------------------------------------------- fingerprint


def test_fingerprint_follows_content_not_location(tmp_path):
    original = tmp_path / "a" / "big.mp4"
    original.parent.mkdir()
    original.write_bytes(np.random.default_rng(1).bytes(3 << 20))  # 3 MiB: head and tail hashed
    copy = tmp_path / "b" / "renamed.mp4"
    copy.parent.mkdir()
    shutil.copy(original, copy)
    assert fingerprint(copy) == fingerprint(original)
    assert fingerprint(original)[0] == 3 << 20
    for offset in (0, (3 << 20) - 1):  # a byte changed at the start or the end
        data = bytearray(original.read_bytes())
        data[offset] ^= 0xFF
        copy.write_bytes(data)
        assert fingerprint(copy) != fingerprint(original)
    copy.write_bytes(original.read_bytes() + b"x")
    assert fingerprint(copy) != fingerprint(original)


def test_fingerprint_of_frame_folder(tmp_path, videos):
    copy = tmp_path / "copy"
    shutil.copytree(videos["folder"], copy)
    assert fingerprint(copy) == fingerprint(videos["folder"])
    cv2.imwrite(str(copy / "frame25.png"), pattern(24))
    assert fingerprint(copy) != fingerprint(videos["folder"])
    with pytest.raises(VideoError, match="does not exist"):
        fingerprint(tmp_path / "gone")


# -------------------------------------------------------------------------------- frame cache


def _wait_for(condition, timeout: float = 5.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.005)
    return condition()


FRAME_BYTES = W * H * 3


def test_frame_cache_returns_right_frames_within_its_budget(videos):
    budget = 10 * FRAME_BYTES
    with FrameCache(videos["h264"], max_bytes=budget) as cache:
        # Ahead, a window of 8 fits beside the frame on screen; behind, a window and a block.
        assert (cache.prefetch, cache.prefetch_back) == (8, 4)
        rng = np.random.default_rng(2)
        moves = [*range(0, 40), *range(120, 100, -1), *map(int, rng.integers(0, 300, 40))]
        for i in moves:
            frame = cache.get(i)
            assert index_of(frame) == i
            assert not frame.flags.writeable
            assert cache.nbytes <= budget
        assert _wait_for(lambda: cache.nbytes > 0)
        assert cache.peak_bytes <= budget
        assert cache.misses > 0


def test_frame_cache_prefetches_ahead_and_in_blocks_behind(videos):
    with FrameCache(videos["h264"], 40 * FRAME_BYTES, prefetch=8, prefetch_back=8) as cache:
        cache.get(50)
        assert _wait_for(lambda: set(range(51, 59)) <= set(cache.cached()))
        hits = cache.hits
        assert index_of(cache.get(51)) == 51 and cache.hits == hits + 1
        cache.get(200)
        cache.get(199)  # now going back: the 8 frames below 199 come from one seek
        assert _wait_for(lambda: set(range(191, 199)) <= set(cache.cached()))
        for i in range(198, 190, -1):
            assert index_of(cache.get(i)) == i
        assert cache.hits >= hits + 9


def test_frame_cache_is_thread_safe(videos):
    errors: list[str] = []
    with FrameCache(videos["h264"], max_bytes=12 * FRAME_BYTES) as cache:

        def worker(seed: int) -> None:
            for i in np.random.default_rng(seed).integers(0, 300, 30):
                got = index_of(cache.get(int(i)))
                if got != i:
                    errors.append(f"asked {i}, got {got}")

        threads = [threading.Thread(target=worker, args=(s,)) for s in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and cache.peak_bytes <= 12 * FRAME_BYTES


def test_frame_cache_close_stops_its_thread(videos):
    cache = FrameCache(videos["mp4v"], max_bytes=20 * FRAME_BYTES)
    cache.get(0)
    cache.close()
    cache.close()
    assert not [t for t in threading.enumerate() if t.name == "halgui-prefetch:cv.mp4"]
    with pytest.raises(VideoError, match="closed"):
        cache.get(1)


def test_frame_cache_out_of_range_and_reader_factory(videos):
    with FrameCache(lambda: open_video(videos["folder"]), max_bytes=0) as cache:
        assert cache.prefetch == cache.prefetch_back == 0
        assert index_of(cache.get(5)) == 5 and cache.nbytes == 0
        with pytest.raises(FrameRangeError, match="has no frame 24"):
            cache.get(24)


# --------------------------------------------------------------------------------- clip cache


def test_clip_cache_builds_once_and_is_keyed_by_content(videos, tmp_path):
    cache = ClipCache(tmp_path / "cache")
    assert not cache.has(videos["mp4v"], 32)
    events, frames = run_with_events(cache.build(videos["mp4v"], 32))
    assert isinstance(frames, np.memmap) and frames.shape == (90, 32, 32, 3)
    assert frames.dtype == np.uint8 and not frames.flags.writeable
    assert [e.done for e in events] == sorted(e.done for e in events)
    assert events[-1].done == events[-1].total == 90
    stored = cache.path_for(videos["mp4v"], 32)
    mtime = stored.stat().st_mtime_ns
    again = ClipCache(tmp_path / "cache")
    moved = tmp_path / "moved.mp4"
    shutil.copy(videos["mp4v"], moved)
    assert again.has(moved, 32) and again.frames(moved, 32).shape == (90, 32, 32, 3)
    assert again.builds == 0 and cache.builds == 1 and stored.stat().st_mtime_ns == mtime
    assert list(run_to_end(again.build(videos["mp4v"], 32)).shape) == [90, 32, 32, 3]
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [stored.name]
    with open_video(videos["mp4v"]) as reader:
        for i in (0, 45, 89):
            expected = cv2.resize(reader.read(i), (32, 32), interpolation=cv2.INTER_AREA)
            assert np.abs(frames[i].astype(int) - expected).mean() < 4


def test_clip_cache_default_size_and_frame_folders(videos, tmp_path):
    frames = ClipCache(tmp_path).frames(videos["folder"])
    size = VideoConfig().clip_size
    assert frames.shape == (24, size, size, 3)
    assert [index_of(f) for f in frames] == list(range(24))


def test_cancelled_or_abandoned_build_leaves_nothing(videos, tmp_path):
    cache_dir = tmp_path / "cache"
    cache = ClipCache(cache_dir, VideoConfig(clip_progress_every=8))
    flag = CancelFlag()
    work = cache.build(videos["h264"], 32, cancel=flag)
    next(work)
    next(work)
    flag.cancel()
    with pytest.raises(Cancelled):
        run_to_end(work)
    assert list(cache_dir.iterdir()) == []
    work = cache.build(videos["h264"], 32)
    next(work)
    next(work)
    work.close()  # the consumer walked away
    assert list(cache_dir.iterdir()) == [] and not cache.has(videos["h264"], 32)


def test_failed_build_leaves_nothing(tmp_path):
    folder = write_folder(tmp_path / "frames", 6)
    cv2.imwrite(str(folder / "frame5.png"), np.zeros((10, 10, 3), np.uint8))
    cache = ClipCache(tmp_path / "cache")
    with pytest.raises(VideoError, match=r"frame5\.png"):
        cache.frames(folder, 16)
    assert list((tmp_path / "cache").iterdir()) == []


# ---------------------------------------------------------------------------------- benchmark


def test_benchmark_is_lazy_and_prints_a_table():
    code = "import sys, halgui, halgui.core.video; print('halgui.bench' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    from halgui.bench.video import _row, format_table

    result = {"rows": [_row("random seek", 120.0, "ms", 150.0), _row("decode", 200.0, "fps")],
              "context": {"gop": 120}}
    assert result["rows"][0]["ratio"] == pytest.approx(0.8) and result["rows"][0]["ok"] is True
    table = format_table(result)
    assert "random seek" in table and "150 ms" in table and "gop: 120" in table
    assert format_table(result["rows"]).count("\n") == 3
