"""PyInstaller entry script: start the app exactly as the ``danet-annotator`` console script does."""

from __future__ import annotations

import sys

from app.__main__ import main

if __name__ == "__main__":
    sys.exit(main())
