"""``danet bench NAME``: run one benchmark of danet_core.bench and print its JSON."""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

from danet_core.bench import BENCHMARKS


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("bench", help="run a benchmark and print JSON")
    bench_sub = parser.add_subparsers(dest="bench", metavar="NAME", required=True)
    for name, module_name in BENCHMARKS.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        p = bench_sub.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        p.add_argument("--out", type=Path, default=None, help="also write the JSON to this file")
        module.add_arguments(p)
        p.set_defaults(func=_make_runner(module))


def _make_runner(module):
    def _run(args: argparse.Namespace) -> int:
        result = module.run(args)
        text = json.dumps(result, indent=2, sort_keys=False)
        print(text)
        if args.out is not None:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text + "\n")
        return 0

    return _run
