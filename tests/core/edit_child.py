"""A labeler that never stops: the child process of the durability test.

Opens the project given on the command line under its lock, as the app does, and keeps adding
keyframes and labeled frames, printing ``committed N`` only after the edit's method returned (the
point where the GUI would show it as saved). The parent kills it with SIGKILL at random moments:
each kill leaves a stale lock that the next child takes over.
"""

import sys

from halgui.core.annotations import Box
from halgui.core.project import Project

folder, start = sys.argv[1], int(sys.argv[2])
project = Project.open(folder, lock="the durability test's labeler")
video = project.videos()[0]
track = project.tracks(video.id)[0].id
i = start
while True:
    project.set_keyframe(track, i, Box(i % 50, 1, i % 50 + 10, 11))
    project.set_labeled(video.id, [i])
    print(f"committed {i}", flush=True)
    i += 1
