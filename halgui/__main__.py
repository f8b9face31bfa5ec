"""``python -m halgui`` and the ``halgui`` command."""

import sys

from halgui.cli import main

if __name__ == "__main__":
    sys.exit(main())
