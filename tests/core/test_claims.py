"""Claims on the videos of a shared project, on both engines: one window has a video, another
is told who, takes it over only when asked, and a claim nobody renews expires."""

import pytest

from halgui.core import claims
from halgui.core.claims import ClaimConfig

OLD = "2000-01-01T00:00:00.000Z"


# project: a new project on each engine (tests/core/conftest.py)


@pytest.fixture
def videos(project):
    return [project.add_video(n, path=None, width=64, height=48, n_frames=30) for n in "ab"]


def test_a_claimed_video_names_its_holder_to_other_windows(project, videos):
    a, b = videos
    assert claims.claim(project, a, "ann@desk", "w1") is None
    assert claims.claim(project, a, "ann@desk", "w1") is None  # its own again: fine
    held = claims.claim(project, a, "bob@lab", "w2")
    assert (held.member, held.session) == ("ann@desk", "w1") and 0 <= held.age_s < 30
    assert claims.claim(project, b, "bob@lab", "w2") is None  # another video: free
    assert {v: h.member for v, h in claims.holders(project).items()} == {a: "ann@desk",
                                                                        b: "bob@lab"}


def test_a_take_over_is_learnt_by_the_first_window_at_its_renewal(project, videos):
    a, b = videos
    claims.claim(project, a, "ann@desk", "w1")
    claims.claim(project, b, "ann@desk", "w1")
    assert claims.renew(project, "w1", [a, b]) == set()
    assert claims.claim(project, a, "bob@lab", "w2", take_over=True) is None
    assert claims.renew(project, "w1", [a, b]) == {a}
    assert claims.holders(project)[a].member == "bob@lab"


def test_a_claim_nobody_renews_expires_and_is_taken_without_asking(project, videos):
    a, _ = videos
    claims.claim(project, a, "ann@desk", "w1")
    with project.transaction() as c:  # ann's machine died: no renewal since
        c.execute("UPDATE video_claims SET heartbeat_at = ?", (OLD,))
    assert claims.holders(project) == {}
    assert claims.claim(project, a, "bob@lab", "w2", config=ClaimConfig(expire_s=30)) is None
    assert claims.renew(project, "w1", [a]) == {a}


def test_released_claims_free_their_videos(project, videos):
    a, b = videos
    claims.claim(project, a, "ann@desk", "w1")
    claims.claim(project, b, "ann@desk", "w1")
    claims.release(project, "w1", a)
    assert set(claims.holders(project)) == {b}
    claims.release(project, "w1")
    assert claims.holders(project) == {}
    assert claims.claim(project, a, "bob@lab", "w2") is None


KILLED_MID_EDIT = """
import sys, time
from halgui.core import claims
from halgui.core.annotations import Box
from halgui.core.locations import open_project
project = open_project(sys.argv[1])
claims.claim(project, int(sys.argv[2]), "ann@desk", "killed-window")
with project.transaction():
    track = project.add_track(int(sys.argv[2]), 1)
    project.set_keyframe(track, 4, Box(1, 2, 30, 40))
    print("mid-edit", flush=True)
    time.sleep(60)  # killed here: the transaction never commits
"""


def test_a_desktop_killed_mid_edit_leaves_nothing_half_written_and_its_claim_expires(
        project, videos, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import time

    a, _ = videos
    project.add_class("walk")
    where = project.url or str(project.folder)
    with subprocess.Popen([sys.executable, "-c", KILLED_MID_EDIT, where, str(a)],
                          stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "HALGUI_BUSY_TIMEOUT": "5"}) as child:
        try:
            assert child.stdout.readline().strip() == "mid-edit"
        finally:
            child.send_signal(signal.SIGKILL)
            child.wait(10)
    assert project.tracks(a) == []  # the edit it was making is gone whole
    held = claims.claim(project, a, "bob@lab", "w2", config=ClaimConfig(expire_s=1.0))
    assert held is not None and held.member == "ann@desk"  # still fresh: bob is told
    time.sleep(1.2)  # nobody renews it
    assert claims.claim(project, a, "bob@lab", "w2", config=ClaimConfig(expire_s=1.0)) is None
