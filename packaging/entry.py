"""The standalone app's entry point (PyInstaller runs this file as ``__main__``).

The same program as the ``halgui`` command: the GUI by default, subcommands for headless work.
``freeze_support`` lets multiprocessing children (spawned on Windows and macOS) start inside
the frozen app instead of starting a second app.
"""

import multiprocessing
import sys

from halgui.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    sys.exit(main())
