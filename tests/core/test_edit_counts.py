"""Every kind of label edit moves its video's edit count, on both engines, in the edit's own
transaction: what other windows watch to show a member's edits without reopening."""

import pytest

from halgui.core.annotations import Box, Keyframe
from halgui.core.edit_counts import edit_counts

# project: a new project on each engine (tests/core/conftest.py)


def video(p, name):
    return p.add_video(name, path=None, size=None, hash=None, width=64, height=48, fps=25.0,
                       n_frames=30)


def test_each_label_edit_moves_only_its_video_s_count(project):
    a, b = video(project, "a"), video(project, "b")
    walk, wave = project.add_class("walk"), project.add_class("wave")
    assert edit_counts(project) == {}
    steps = [
        lambda: project.add_track(a, walk),
        lambda: project.set_keyframe(1, 3, Box(1, 2, 30, 40)),
        lambda: project.set_keyframes(1, [Keyframe(5, Box(1, 2, 30, 40))]),
        lambda: project.set_track_class(1, wave),
        lambda: project.delete_keyframe(1, 5),
        lambda: project.set_labeled(a, [3]),
        lambda: project.set_labeled(a, [3], labeled=False),
    ]
    for n, step in enumerate(steps, start=1):
        step()
        assert edit_counts(project) == {a: n}
    deleted = project.delete_track(1)
    assert edit_counts(project) == {a: len(steps) + 1}
    project.restore_track(a, deleted)  # the track, then its keyframe: moved twice
    assert edit_counts(project) == {a: len(steps) + 3}
    project.add_track(b, walk)
    assert edit_counts(project) == {a: len(steps) + 3, b: 1}


def test_an_edit_that_fails_does_not_move_the_count(project):
    a = video(project, "a")
    walk = project.add_class("walk")
    track = project.add_track(a, walk)
    with pytest.raises(RuntimeError, match="fails"), project.transaction():
        project.set_keyframe(track, 2, Box(1, 2, 30, 40))
        raise RuntimeError("the rest of the edit fails")
    assert edit_counts(project) == {a: 1}
