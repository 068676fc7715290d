"""Benchmarks that print JSON (never timed tests): ``python -m danet_core.bench NAME``.

Each benchmark is a module here exposing ``add_arguments(parser)`` and ``run(args) -> dict``; the dict is
printed as JSON on stdout (and written to ``--out`` when given).
"""

from __future__ import annotations

BENCHMARKS = {
    "model": "danet_core.bench.model",  # PAM and whole-model time / peak memory, bf16 speed-up
    "train": "danet_core.bench.training",  # training-step throughput, efficient vs naive PAM
    "project": "danet_core.bench.project",  # project open time, export speed
    "assist": "danet_core.bench.assist",  # the simulated annotator / fine-tune loop on CamVid
}
