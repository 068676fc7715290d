"""danet bench model: the limit arithmetic (fast) and one real tiny run (slow)."""

from __future__ import annotations

import argparse

import pytest

from danet_core.bench import model as bench
from danet_core.models import ModelConfig
from danet_core.models.flops import count_forward_flops


def test_limit_is_conv_at_the_conv_rate_plus_products_at_the_gemm_rate():
    base = {"device": "cpu", "repeats": 1, "depth": 18, "num_classes": 11}
    rows = [
        {"kind": "model", "size": [64, 128], "impl": "efficient", "median_s": 2.0, "peak_rss_mb": 900.0},
        {"kind": "model", "size": [64, 128], "impl": "naive", "median_s": 3.0, "peak_rss_mb": 950.0},
    ]
    limits = bench._best_limits(
        [{"gemm_gflops": 100.0, "conv_gflops": 50.0}, {"gemm_gflops": 120.0, "conv_gflops": 40.0}]
    )
    assert limits == {"gemm_gflops": 120.0, "conv_gflops": 50.0}  # the fastest seen
    (row,) = bench._ratios(rows, limits, base)
    flops = count_forward_flops(ModelConfig(depth=18, num_classes=11), 64, 128)
    limit = flops.conv / 50e9 + flops.matmul / 120e9
    assert row["limit_s"] == round(limit, 2)
    assert row["efficient_over_limit"] == round(2.0 / limit, 3)
    assert row["naive_over_efficient"] == 1.5 and row["fps"] == 0.5


@pytest.mark.slow
def test_tiny_run_end_to_end():
    parser = argparse.ArgumentParser()
    bench.add_arguments(parser)
    args = parser.parse_args(
        ["--sizes", "32x64", "--depth", "18", "--parts", "pam", "model", "--repeats", "1"]
    )
    result = bench.run(args)
    assert all("error" not in r for r in result["measurements"]), result["measurements"]
    assert result["machine_limits"]["used"]["gemm_gflops"] > 0
    kinds = {r["kind"]: r for r in result["summary"]}
    assert {"pam", "model"} <= set(kinds) and kinds["model"]["efficient_over_limit"] > 0
