"""The store refuses class and video names with a control character, wherever they come from:
export formats write one name a line (MOT, YOLO) or use names as file names."""

import pytest

from halgui.core.errors import ProjectError
from halgui.core.names import InvalidName

BAD = ["ju\nmp", "ju\tmp", "ju\rmp", "jump\x00", "ju\x1bmp", "ju\u2028mp", "ju\u202emp"]


@pytest.fixture
def project(store):  # on both engines (tests/core/conftest.py)
    with store.create() as p:
        yield p


@pytest.mark.parametrize("bad", BAD)
def test_a_class_name_with_a_control_character_is_refused(project, bad):
    with pytest.raises(ProjectError) as info:
        project.add_class(bad)
    assert isinstance(info.value, InvalidName)  # importers re-raise it naming their file
    message = str(info.value)
    assert message.startswith(f"{project.location}: class name ")
    assert "control character" in message and "\n" not in message
    assert project.classes() == []


@pytest.mark.parametrize("bad", BAD)
def test_a_video_name_with_a_control_character_is_refused(project, bad):
    with pytest.raises(ProjectError, match=r"video name .* contains the control character"):
        project.add_video(bad, path=None, width=64, height=48, n_frames=10)
    assert project.videos() == []


@pytest.mark.parametrize("kind", ["class", "video"])
def test_a_name_with_an_unpaired_surrogate_is_refused_not_a_crash(project, kind):
    """A file decoded leniently can bring half a UTF-16 pair, which neither engine can store
    as UTF-8: it is refused like a control character, on both engines, nothing stored."""
    bad = "v_Skijet_g1\ud830_c04"
    with pytest.raises(ProjectError, match=rf"{kind} name .* contains the unpaired surrogate"):
        if kind == "class":
            project.add_class(bad)
        else:
            project.add_video(bad, path=None, width=64, height=48, n_frames=10)
    assert project.classes() == [] and project.videos() == []


def test_ordinary_names_are_kept_as_given(project):
    names = ["jump", "high five", "прыжок", "跳", "नमस्ते", "a\u200db"]  # joiners belong to scripts
    for name in names:
        project.add_class(name)
        project.add_video(name, path=None, width=64, height=48, n_frames=10)
    assert [c.name for c in project.classes()] == names
    assert [v.name for v in project.videos()] == names
    project.add_class("  walk  ")  # stored exactly (formats round-trip it; dialogs trim typing)
    assert project.class_by_name("  walk  ") is not None
    assert project.class_by_name("walk") is None
