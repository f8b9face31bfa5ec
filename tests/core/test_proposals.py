"""What the views read about rounds (halgui.core.proposals), on both engines: a recorded round
read back on a private connection, the latest round by default, an earlier one by id."""

import numpy as np
import pytest

from halgui.core import proposals
from halgui.core.annotations import Box


@pytest.fixture
def project(store):  # on both engines (tests/core/conftest.py)
    with store.create() as p:
        yield p


def record(p, picks, scores=()):
    return p.record_round(strategy="stew", config={}, metrics={}, checkpoint=None,
                          started_at="2026-01-01T00:00:00Z", proposals=picks,
                          video_scores=scores)


def test_nothing_before_the_first_round(project):
    project.add_video("a", path=None, width=8, height=8, n_frames=10)
    assert proposals.latest_round(project) is None
    assert proposals.open_proposals(project) == []
    assert proposals.round_progress(project) == (0, 0)
    (summary,) = proposals.video_summaries(project)
    assert (summary.name, summary.proposed, summary.after_round) == ("a", 0, False)


def test_a_round_read_back_by_every_view(project):
    a = project.add_video("a", path=None, width=8, height=8, n_frames=10)
    b = project.add_video("b", path=project.folder / "b.mp4", width=8, height=8, n_frames=4)
    curve = np.array([0.5, 0.25, 1.0, 0.0], dtype="<f4")
    first = record(project, [(a, 1, 0.9)])
    assert first == 0
    number = record(project, [(b, 2, 0.8), (a, 5, 0.7), (a, 3, 0.6), (a, 5, 0.1)],
                    [(a, None, 0, 0.5), (b, curve.tobytes(), 1, 0.25)])
    track = project.add_track(a, project.add_class("walk"))
    project.set_keyframe(track, 5, Box(0, 0, 2, 2))
    project.set_labeled(a, [5])

    latest = proposals.latest_round(project)
    assert latest is not None and (latest.number, latest.strategy) == (number, "stew")
    assert proposals.proposals(project, a) == [(3, 0.6, 2), (5, 0.7, 1)]  # a repeat is dropped
    assert proposals.open_proposals(project) == [(b, 2), (a, 3)]  # rank order, labeled gone
    assert proposals.proposal_counts(project) == {a: 2, b: 1}
    assert proposals.round_progress(project) == (1, 3)
    assert proposals.round_progress(project, video_id=b) == (0, 1)
    scores = proposals.video_scores(project)
    assert scores[a].uncertainty is None and scores[a].cluster == 0
    assert np.array_equal(scores[b].uncertainty, curve) and scores[b].informativeness == 0.25
    assert proposals.cluster_sizes(project) == {number: [1, 1]}
    summaries = {s.name: s for s in proposals.video_summaries(project)}
    assert (summaries["a"].labeled, summaries["a"].proposed,
            summaries["a"].proposed_labeled) == (1, 2, 1)
    assert summaries["a"].status == "in progress" and not summaries["a"].linked
    # stored relative to the folder; a shared project's only to a media root (none told here)
    stored = "b.mp4" if project.url is None else str(project.folder / "b.mp4")
    assert summaries["b"].status == "to label" and summaries["b"].path == stored

    ((first_id,),) = project.query("SELECT id FROM rounds WHERE number = ?", (first,))
    assert proposals.open_proposals(project, round_id=first_id) == [(a, 1)]  # an earlier one
