"""The ``halgui`` command as a user runs it: a real subprocess, real files."""

import json
import subprocess
import sys
from pathlib import Path

from tests.core.videos import write_mp4

ROOT = Path(__file__).resolve().parents[1]


def halgui(*args: str | Path, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "halgui", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_every_command_has_help():
    for command in ("new", "add", "info", "synth", "import", "link", "export", "bench",
                    "proxy", "worker", "migrate"):
        result = halgui(command, "--help")
        assert result.returncode == 0, result.stderr
        assert "usage: halgui " + command in result.stdout


def test_new_add_info(tmp_path):
    assert halgui("new", tmp_path / "p", "--classes", "walk", "jump").returncode == 0
    videos = tmp_path / "videos"
    videos.mkdir()
    write_mp4(videos / "a.mp4", n_frames=10)
    write_mp4(videos / "b.mp4", n_frames=7, seed=1)
    result = halgui("add", tmp_path / "p", videos)
    assert result.returncode == 0, result.stderr
    assert "added 2 video(s)" in result.stdout
    again = halgui("add", tmp_path / "p", videos / "a.mp4")
    assert "already in the project" in again.stdout
    info = json.loads(halgui("info", tmp_path / "p", "--json").stdout)
    for key in ("videos", "frames", "labeled_frames", "keyframe_boxes", "tracks", "classes",
                "rounds", "proposals"):
        assert key in info
    assert (info["videos"], info["frames"], info["classes"]) == (2, 17, 2)


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "fake.mp4").write_text("not a video")
    halgui("new", tmp_path / "p")
    result = halgui("add", tmp_path / "p", tmp_path / "fake.mp4")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("halgui: error: ")
    assert "fake.mp4" in lines[0]
    assert json.loads(halgui("info", tmp_path / "p", "--json").stdout)["videos"] == 0
    missing = halgui("info", tmp_path / "nowhere")
    assert missing.returncode == 2 and "nowhere" in missing.stderr


def test_import_creates_the_project_and_a_failed_import_leaves_none(tmp_path):
    write_mp4(tmp_path / "clip.mp4", n_frames=6)
    good = {"format": "halgui", "version": 1, "classes": [{"name": "wave"}],
            "videos": [{"name": "clip", "path": "clip.mp4", "width": 64, "height": 48,
                        "n_frames": 6, "labeled_frames": [[0, 5]],
                        "tracks": [{"actor": 1, "class": "wave", "keyframes": [
                            {"frame": f, "box": [f, 1, f + 10, 20]} for f in range(6)]}]}]}
    (tmp_path / "gt.json").write_text(json.dumps(good))
    result = halgui("import", tmp_path / "p", "--format", "halgui", tmp_path / "gt.json",
                    "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["keyframe_boxes"] == 6
    info = json.loads(halgui("info", tmp_path / "p", "--json").stdout)
    assert (info["videos"], info["labeled_frames"], info["tracks"]) == (1, 6, 1)

    good["videos"][0]["tracks"][0]["keyframes"][2]["box"] = [1, 2]
    (tmp_path / "bad.json").write_text(json.dumps(good))
    bad = halgui("import", tmp_path / "q", "--format", "halgui", tmp_path / "bad.json")
    assert bad.returncode == 2
    assert "keyframes[2].box" in bad.stderr
    assert not (tmp_path / "q").exists()


def test_export_writes_the_native_format(tmp_path):
    halgui("new", tmp_path / "p", "--classes", "walk")
    result = halgui("export", tmp_path / "p", "--format", "halgui", tmp_path / "out.json")
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["format"] == "halgui" and data["classes"][0]["name"] == "walk"
