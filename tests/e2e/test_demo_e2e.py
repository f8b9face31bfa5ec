"""End to end in a real window: the demo from the command line, a box drawn with the mouse on a
real X display (Xvfb), the app quit and started again: the box is still there.

Runs where an X server can be started (Xvfb installed, as pytest-xvfb needs); skipped
elsewhere. The app runs in its own processes (the test session's Qt is offscreen). Screenshots
go to ``artifacts/`` (gitignored).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb for a real display"),
]


@pytest.fixture(scope="module")
def display():
    """A 1440x900, 24-bit Xvfb display of its own (pytest-xvfb's default is 800x600x16)."""
    from pyvirtualdisplay import Display

    screen = Display(backend="xvfb", size=(1440, 900), color_depth=24,
                     manage_global_env=False)
    screen.start()
    try:
        yield f":{screen.display}"
    finally:
        screen.stop()


def run(*args, env=None, **kwargs):
    return subprocess.run([sys.executable, *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env, **kwargs)


def gui_env(display, tmp_path):
    env = dict(os.environ, DISPLAY=display, QT_QPA_PLATFORM="xcb",
               XDG_RUNTIME_DIR=str(tmp_path / "runtime"))
    (tmp_path / "runtime").mkdir(mode=0o700, exist_ok=True)
    return env


def test_demo_draw_quit_reopen(display, tmp_path):
    demo = tmp_path / "demo"
    made = run("-m", "halgui", "demo", "--no-gui", demo)
    assert made.returncode == 0, made.stderr
    assert (demo / "project.halgui").is_file()
    settings = tmp_path / "settings.ini"
    env = gui_env(display, tmp_path)

    drawing = subprocess.Popen(
        [sys.executable, "-m", "tests.e2e.drive_demo", "draw", demo, settings, ARTIFACTS],
        cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    try:
        line = drawing.stdout.readline()
        if shutil.which("import"):  # the whole X screen, as a person would see it
            subprocess.run(["import", "-window", "root", str(ARTIFACTS / "e2e_screen.png")],
                           env=env, timeout=60, check=False)
        _, err = drawing.communicate("quit\n", timeout=60)
    finally:
        if drawing.poll() is None:
            drawing.kill()
    assert drawing.returncode == 0, err
    drawn = json.loads(line)
    assert drawn["platform"] == "xcb"
    assert drawn["frame"] == 10
    assert drawn["labeled"] == [10]
    ((_, frame, box),) = drawn["keyframes"]
    assert frame == 10
    assert box == pytest.approx([40, 30, 95, 100], abs=1.5)
    assert drawn["boxes_on_canvas"] == 1

    again = run("-m", "tests.e2e.drive_demo", "check", settings, ARTIFACTS, drawn["video_id"],
                env=env)
    assert again.returncode == 0, again.stderr
    reopened = json.loads(again.stdout.strip().splitlines()[-1])
    assert reopened["project"] == drawn["project"]
    assert reopened["keyframes"] == drawn["keyframes"]
    assert reopened["labeled"] == [10]
    assert reopened["frame"] == 10
    assert reopened["boxes_on_canvas"] == 1
    assert (ARTIFACTS / "e2e_drawn.png").is_file() and (ARTIFACTS / "e2e_reopened.png").is_file()
