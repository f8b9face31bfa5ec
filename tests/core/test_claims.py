"""Claims on the videos of a shared project, on both engines: one window has a video, another
is told who, takes it over only when asked, and a claim nobody renews expires."""

import pytest

from halgui.core import claims
from halgui.core.claims import ClaimConfig

OLD = "2000-01-01T00:00:00.000Z"


@pytest.fixture
def project(store):  # on both engines (tests/core/conftest.py)
    p = store.create()
    yield p
    p.close()


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
