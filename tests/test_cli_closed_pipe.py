"""``halgui ... | head``: when the reader of the output goes away, halgui stops quietly (no
BrokenPipeError traceback) with status 141, what the shell reports for other tools SIGPIPE ends."""

import json
import shutil
import subprocess
import sys

import pytest

from halgui.core.project import Project
from tests.test_cli import ROOT

COMMAND = [sys.executable, "-m", "halgui"]
N_VIDEOS = 4000  # about 1 MB of JSON: far more than a pipe holds, so writing must hit the close


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A project whose ``info --videos --json`` is about 1 MB (annotation-only videos)."""
    folder = tmp_path_factory.mktemp("pipe") / "p"
    with Project.create(folder) as project, project.transaction():
        for i in range(N_VIDEOS):
            project.add_video(f"video-{i:05d}-" + "x" * 150, path=None, width=64, height=48,
                              n_frames=10)
    whole = subprocess.run([*COMMAND, "info", folder, "--videos", "--json"], cwd=ROOT,
                           capture_output=True, timeout=120)
    assert whole.returncode == 0 and len(whole.stdout) > 16 * 65536  # else no test here
    assert len(json.loads(whole.stdout)["video_list"]) == N_VIDEOS
    return folder


def read_one_line_and_close(*args):
    """Run halgui with its stdout on a pipe; read one line, close the pipe, wait."""
    proc = subprocess.Popen([*COMMAND, *map(str, args)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.stderr.close()
    return first, proc.wait(timeout=120), stderr


@pytest.mark.parametrize("flags", [["--json"], []])
def test_a_reader_that_closes_early_ends_halgui_quietly(big, flags):
    first, status, stderr = read_one_line_and_close("info", big, "--videos", *flags)
    assert first.split() in ([b"{"], [b"project", str(big).encode()])
    assert stderr == ""
    assert status == 141


@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("head") is None,
                    reason="needs bash and head")
def test_in_a_shell_pipeline_with_pipefail(big):
    script = (f"set -o pipefail; {sys.executable} -m halgui info '{big}' --videos --json"
              " | head -n 1")
    result = subprocess.run(["bash", "-c", script], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert (result.stdout, result.stderr, result.returncode) == ("{\n", "", 141)
