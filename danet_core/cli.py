"""The ``danet`` command line: a thin dispatcher over subcommand modules.

Each area of danet_core owns one module under :mod:`danet_core.commands` exposing
``register(subparsers)``; this file only collects them, so the areas never edit each other's
argument parsers.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

# (module, description) — every module exposes register(subparsers) -> None, which adds its
# subcommands with ``set_defaults(func=...)``; func(args) -> int is the exit status.
COMMAND_MODULES = (
    "danet_core.commands.model",
    "danet_core.commands.train",
    "danet_core.commands.project",
    "danet_core.commands.bench",
    "danet_core.commands.zoo",
    "danet_core.commands.onnx",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="danet",
        description="DANet (Dual Attention Network) segmentation: train, evaluate, predict, "
        "import checkpoints, manage annotation projects and export labels.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError) as exc:  # user-facing errors: one clear line, no traceback
        print(f"danet: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
