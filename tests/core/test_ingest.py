"""Adding videos and finding them again after they moved, on real files."""

import shutil

import pytest

from halgui.core.errors import VideoError
from halgui.core.ingest import add_videos, expand_paths, find_moved, missing_videos, relink
from halgui.core.progress import run_to_end
from halgui.core.project import Project
from tests.core.videos import write_mp4


@pytest.fixture
def project(tmp_path):
    with Project.create(tmp_path / "p") as p:
        yield p


def test_adding_is_all_or_nothing_unless_asked(project, tmp_path):
    write_mp4(tmp_path / "a.mp4")
    (tmp_path / "b.mp4").write_text("not a video")
    with pytest.raises(VideoError, match=r"b\.mp4"):
        run_to_end(add_videos(project, [tmp_path / "a.mp4", tmp_path / "b.mp4"]))
    assert project.videos() == []
    result = run_to_end(add_videos(project, [tmp_path / "a.mp4", tmp_path / "b.mp4"],
                                   skip_bad=True))
    assert len(result.added) == 1 and [str(e.path.name) for e in result.failed] == ["b.mp4"]


def test_same_file_twice_is_added_once_and_names_stay_unique(project, tmp_path):
    (tmp_path / "x").mkdir()
    write_mp4(tmp_path / "a.mp4", seed=1)
    write_mp4(tmp_path / "x" / "a.mp4", seed=2)
    first = run_to_end(add_videos(project, [tmp_path / "a.mp4", tmp_path / "x" / "a.mp4"]))
    assert [v.name for v in project.videos()] == ["a", "a_2"]
    again = run_to_end(add_videos(project, [tmp_path / "a.mp4"]))
    assert again.added == [] and again.already_present == [(tmp_path / "a.mp4").resolve()]
    assert len(first.added) == 2


def test_a_folder_of_videos_and_a_folder_of_frames(tmp_path):
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i:03d}.png"), np.full((8, 8, 3), i * 40, np.uint8))
    videos = tmp_path / "videos"
    videos.mkdir()
    write_mp4(videos / "v.mp4")
    assert expand_paths([frames]) == [frames.resolve()]
    assert expand_paths([videos]) == [(videos / "v.mp4").resolve()]
    (tmp_path / "empty").mkdir()
    with pytest.raises(VideoError, match="empty"):
        expand_paths([tmp_path / "empty"])


def test_a_moved_video_is_found_by_fingerprint_and_relinked(project, tmp_path):
    write_mp4(tmp_path / "a.mp4", seed=3)
    (video_id,) = run_to_end(add_videos(project, [tmp_path / "a.mp4"])).added
    assert missing_videos(project) == []
    (tmp_path / "moved").mkdir()
    shutil.move(tmp_path / "a.mp4", tmp_path / "moved" / "renamed.mp4")
    assert [v.id for v in missing_videos(project)] == [video_id]
    found = find_moved(project, tmp_path)
    assert found == {video_id: (tmp_path / "moved" / "renamed.mp4").resolve()}
    relink(project, video_id, found[video_id])
    assert project.video(video_id).path == (tmp_path / "moved" / "renamed.mp4").resolve()
    assert missing_videos(project) == []


def test_relinking_to_a_different_file_is_refused(project, tmp_path):
    write_mp4(tmp_path / "a.mp4", seed=4)
    write_mp4(tmp_path / "other.mp4", seed=5)
    (video_id,) = run_to_end(add_videos(project, [tmp_path / "a.mp4"])).added
    with pytest.raises(VideoError, match="not the file"):
        relink(project, video_id, tmp_path / "other.mp4")
    assert project.video(video_id).path == (tmp_path / "a.mp4").resolve()
    relink(project, video_id, tmp_path / "other.mp4", force=True)
    assert project.video(video_id).path == (tmp_path / "other.mp4").resolve()


def test_an_annotation_only_video_is_linked_when_size_and_length_match(project, tmp_path):
    write_mp4(tmp_path / "a.mp4", n_frames=12, size=(64, 48))
    video_id = project.add_video("a", path=None, width=64, height=48, n_frames=12)
    wrong = project.add_video("b", path=None, width=64, height=48, n_frames=30)
    relink(project, video_id, tmp_path / "a.mp4")
    assert project.video(video_id).hash is not None
    with pytest.raises(VideoError, match="has 12 frames"):
        relink(project, wrong, tmp_path / "a.mp4")
