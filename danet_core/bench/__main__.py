"""``python -m danet_core.bench NAME [options]`` — same as ``danet bench NAME``."""

from __future__ import annotations

import sys

from danet_core.cli import main

if __name__ == "__main__":
    sys.exit(main(["bench", *sys.argv[1:]]))
