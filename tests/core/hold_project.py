"""Another program with a project open for editing: the holder in the lock tests.

Opens the project given on the command line under its lock, prints ``holding <pid>``, and keeps
it open until its stdin closes (or it is killed, which leaves a stale lock behind).
"""

import os
import sys

from halgui.core.project import Project

with Project.open(sys.argv[1], lock="the lock test's holder"):
    print(f"holding {os.getpid()}", flush=True)
    sys.stdin.read()
