"""PAM and whole-DANet forward time / peak RSS (efficient vs naive PAM), and bf16 vs fp32 speed + agreement.

Every measurement runs in its own subprocess so that ``ru_maxrss`` (peak resident memory) belongs to that
measurement alone. Times are medians over ``--repeats`` forwards in the same process (the first includes
one-time kernel set-up). Measurements needing more than 4 GB (the naive PAM at 1024x2048) run under
``flock /tmp/danet-heavy.lock`` so that two memory-heavy jobs on a shared machine never overlap.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from danet_core.options import PRECISIONS

if TYPE_CHECKING:
    import torch

    from danet_core.models import Segmenter

log = logging.getLogger(__name__)

HEAVY_LOCK = "/tmp/danet-heavy.lock"


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected HxW such as 512x1024") from exc
    return h, w


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", type=_size, nargs="+", default=[(512, 1024), (1024, 2048)])
    parser.add_argument("--depth", type=int, default=50, choices=(18, 34, 50, 101))
    parser.add_argument("--num-classes", type=int, default=19)
    parser.add_argument("--repeats", type=int, default=3, help="forwards per process (median reported)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="processes per measurement, interleaved across impls so that "
        "load from other users of the machine hits both alike; times pooled, peak RSS = max",
    )
    parser.add_argument(
        "--parts", nargs="+", default=["pam", "model", "bf16"], choices=("pam", "model", "bf16")
    )
    parser.add_argument("--impls", nargs="+", default=["efficient", "naive"], choices=("efficient", "naive"))
    parser.add_argument(
        "--precisions",
        nargs="+",
        default=["fp32"],
        choices=PRECISIONS,
        help="whole-model precisions of the efficient path (autocast as the Predictor does; fp16 is CUDA's)",
    )
    parser.add_argument(
        "--bf16-size", type=_size, default=(512, 1024), help="input size of the bf16 comparison"
    )
    parser.add_argument("--checkpoint", default=None, help="trained checkpoint for the bf16 agreement")
    parser.add_argument("--image", default=None, help="real image for the bf16 agreement (resized)")
    parser.add_argument("--device", default="cpu", help="cpu | cuda (CUDA adds peak CUDA memory)")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _timed(fn: Callable[[], object], repeats: int, device: str) -> list[float]:
    times = []
    for _ in range(repeats):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _pam_input(spec: dict[str, Any], device: str) -> tuple[torch.nn.Module, torch.Tensor]:
    """The PAM of DANet-R50's head (512 channels) on the feature map of a ``size`` input."""
    import torch

    from danet_core.models import PAM

    torch.manual_seed(0)
    h, w = spec["size"]
    with torch.device(device):
        pam = PAM(512, impl=spec.get("impl", "efficient")).eval()
        x = torch.randn(1, 512, (h + 7) // 8, (w + 7) // 8)
    with torch.no_grad():
        pam.gamma.fill_(1.0)
        for conv in (pam.query, pam.key):  # energies in the hundreds, as in trained models
            conv.weight.mul_(4.0)
    return pam, x


def _child_pam(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    pam, x = _pam_input(spec, spec["device"])
    rss0 = _peak_rss_mb()
    with torch.inference_mode():
        times = _timed(lambda: pam(x), spec["repeats"], spec["device"])
    return {"times_s": times, "rss_before_mb": rss0}


def _build(spec: dict[str, Any]) -> Segmenter:
    import torch

    from danet_core.models import get_model

    torch.manual_seed(0)
    model = get_model("danet", depth=spec["depth"], num_classes=spec["num_classes"], pam_impl=spec["impl"])
    return model.eval().to(spec["device"])


def _child_model(spec: dict[str, Any]) -> dict[str, Any]:
    """The efficient path is the product's forward (:func:`danet_core.inference.forward_logits`: BN
    folded, fused output only); the naive path is the textbook one (``model(x)``, naive PAM)."""
    import torch

    from danet_core.inference import AUTOCAST_DTYPES, forward_logits
    from danet_core.models.fuse import for_inference

    model = _build(spec)
    if spec["impl"] == "efficient":  # as the app and `danet predict` keep it: folded, the original dropped
        model = for_inference(model)
    x = torch.randn(1, 3, *spec["size"], device=spec["device"])
    rss0 = _peak_rss_mb()
    run = (lambda: forward_logits(model, x)) if spec["impl"] == "efficient" else (lambda: model(x))
    dtype = AUTOCAST_DTYPES[spec.get("precision", "fp32")]
    dev = torch.device(spec["device"]).type
    with torch.inference_mode(), torch.autocast(dev, dtype=dtype or torch.float32, enabled=dtype is not None):
        times = _timed(run, spec["repeats"], spec["device"])
    return {"times_s": times, "rss_before_mb": rss0}


def _child_limits(spec: dict[str, Any]) -> dict[str, Any]:
    """The machine's fp32 rates, measured like the issue defines the limit: a 4096^2 GEMM and a
    512-channel dilated 3x3 convolution at 128 x 256 (DANet-R50's layer4 shape), best of ``repeats``."""
    import torch
    import torch.nn.functional as F

    dev = spec["device"]
    gen = torch.Generator().manual_seed(0)
    a, b = (torch.randn(4096, 4096, generator=gen).to(dev) for _ in range(2))
    x = torch.randn(1, 512, 128, 256, generator=gen).to(dev)
    w = torch.randn(512, 512, 3, 3, generator=gen).to(dev) * 0.02
    repeats = max(3, spec["repeats"])
    with torch.inference_mode():
        gemm = min(_timed(lambda: torch.mm(a, b), repeats + 1, dev)[1:])
        conv = min(_timed(lambda: F.conv2d(x, w, padding=2, dilation=2), repeats + 1, dev)[1:])
    conv_flops = 2 * 512 * 512 * 9 * 128 * 256
    return {
        "gemm_gflops": round(2 * 4096**3 / gemm / 1e9, 1),
        "conv_gflops": round(conv_flops / conv / 1e9, 1),
    }


def _bf16_input(spec: dict[str, Any]) -> torch.Tensor:
    import torch
    import torch.nn.functional as F

    if spec.get("image"):
        from danet_core.inference import as_rgb_array

        rgb = torch.from_numpy(as_rgb_array(spec["image"])).permute(2, 0, 1).float()[None] / 255.0
        rgb = F.interpolate(rgb, size=tuple(spec["size"]), mode="bilinear", align_corners=False)
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        return ((rgb - mean) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)).to(spec["device"])
    return torch.randn(1, 3, *spec["size"], generator=torch.Generator().manual_seed(1)).to(spec["device"])


def _child_bf16(spec: dict[str, Any]) -> dict[str, Any]:
    import torch

    if spec.get("checkpoint"):
        from danet_core.checkpoints import load_model

        model = load_model(spec["checkpoint"], device=spec["device"])
    else:
        model = _build(spec)
    x, dev = _bf16_input(spec), torch.device(spec["device"]).type
    outs: dict[str, Any] = {}

    def run(precision: str) -> None:
        with torch.inference_mode(), torch.autocast(dev, dtype=torch.bfloat16, enabled=precision == "bf16"):
            outs[precision] = model(x)["out"].float()

    t32 = _timed(lambda: run("fp32"), spec["repeats"], spec["device"])
    t16 = _timed(lambda: run("bf16"), spec["repeats"], spec["device"])
    agree = (outs["fp32"].argmax(1) == outs["bf16"].argmax(1)).float().mean().item()
    return {"fp32_times_s": t32, "bf16_times_s": t16, "argmax_agreement": agree}


CHILDREN = {"pam": _child_pam, "model": _child_model, "bf16": _child_bf16, "limits": _child_limits}


def child_main(spec_json: str) -> None:
    """Entry point of one measurement subprocess: prints one JSON object."""
    import torch

    spec = json.loads(spec_json)
    if spec["device"].startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    result = CHILDREN[spec["kind"]](spec)
    result["peak_rss_mb"] = round(_peak_rss_mb(), 1)
    if spec["device"].startswith("cuda"):
        result["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    result["threads"] = torch.get_num_threads()
    print(json.dumps(result))


def _needs_lock(spec: dict[str, Any]) -> bool:
    n = ((spec["size"][0] + 7) // 8) * ((spec["size"][1] + 7) // 8)
    return spec.get("impl") == "naive" and n * n * 4 > 1e9  # N x N float32 energies + softmax + model


def run_child(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one measurement in a fresh Python process; returns its JSON (or an "error" entry)."""
    cmd = [sys.executable, "-m", "danet_core.bench.model", "--child", json.dumps(spec)]
    if _needs_lock(spec) and shutil.which("flock"):
        cmd = ["flock", HEAVY_LOCK, *cmd]
    log.info("measuring %s", spec)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {**spec, "error": (proc.stderr.strip().splitlines() or [f"exit {proc.returncode}"])[-1]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in [k for k in result if k.endswith("times_s")]:
        result[key.replace("times_s", "median_s")] = round(statistics.median(result[key]), 3)
        result[key] = [round(t, 3) for t in result[key]]
    return {**spec, **result, "process_wall_s": round(wall, 1)}


def _flops(kind: str, spec: dict[str, Any]) -> Any:
    """FLOPs of one measurement's work (conv and matrix products), counted on meta tensors."""
    from danet_core.models import ModelConfig
    from danet_core.models.flops import count_flops, count_forward_flops

    if kind == "model":
        return count_forward_flops(
            ModelConfig(depth=spec["depth"], num_classes=spec["num_classes"]), *spec["size"]
        )
    pam, x = _pam_input(spec, "meta")
    return count_flops(lambda: pam(x), pam)


def _limit_s(flops: Any, limits: dict[str, float]) -> float:
    """Seconds the work takes at the machine's measured rates: convs at the conv rate, products at GEMM's."""
    return flops.conv / (limits["conv_gflops"] * 1e9) + flops.matmul / (limits["gemm_gflops"] * 1e9)


def _kindwise_limit_s(flops: Any, limits: dict[str, float]) -> float:
    """As :func:`_limit_s`, but 1 x 1 convolutions (matrix products) at the GEMM rate: on a CPU whose
    3 x 3 convolution runs faster than its GEMM (an algorithm with fewer multiplies), the plain limit
    charges the 1 x 1 convs a rate no matrix product reaches."""
    spatial = flops.conv - flops.conv_1x1
    return spatial / (limits["conv_gflops"] * 1e9) + (flops.conv_1x1 + flops.matmul) / (
        limits["gemm_gflops"] * 1e9
    )


def _ratios(
    rows: list[dict[str, Any]], limits: dict[str, float] | None, base: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for kind in ("pam", "model"):
        for size in sorted({tuple(r["size"]) for r in rows if r["kind"] == kind}):
            pick = {
                r["impl"]: r
                for r in rows
                if r["kind"] == kind
                and tuple(r["size"]) == size
                and "error" not in r
                and r.get("precision", "fp32") == "fp32"
            }
            if "efficient" not in pick:
                continue
            e = pick["efficient"]
            flops = _flops(kind, {**base, "size": list(size)})
            row: dict[str, Any] = {"kind": kind, "size": list(size), "fps": round(1 / e["median_s"], 3),
                                   "gflop": round(flops.total / 1e9, 1),
                                   "gflop_matmul": round(flops.matmul / 1e9, 1),
                                   "peak_rss_efficient_mb": e["peak_rss_mb"]}  # fmt: skip
            if limits:
                limit = _limit_s(flops, limits)
                kindwise = _kindwise_limit_s(flops, limits)
                row.update(limit_s=round(limit, 2), efficient_over_limit=round(e["median_s"] / limit, 3),
                           gflop_conv_1x1=round(flops.conv_1x1 / 1e9, 1), kindwise_limit_s=round(kindwise, 2),
                           efficient_over_kindwise_limit=round(e["median_s"] / kindwise, 3))  # fmt: skip
            if "naive" in pick:
                n = pick["naive"]
                row.update(naive_over_efficient=round(n["median_s"] / e["median_s"], 3),
                           peak_rss_naive_mb=n["peak_rss_mb"])  # fmt: skip
            out.append(row)
    return out


def _machine_limits(base: dict[str, Any], when: str) -> dict[str, Any]:
    return {**run_child({**base, "kind": "limits", "size": [0, 0], "impl": "-"}), "when": when}


def _best_limits(runs: list[dict[str, Any]]) -> dict[str, float] | None:
    """The fastest rates seen (start and end of the run): the limit is what the machine can do."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return None
    return {k: max(r[k] for r in ok) for k in ("gemm_gflops", "conv_gflops")}


def _precision_row(base: dict[str, Any], size: tuple[int, int], precision: str) -> dict[str, Any]:
    spec = {**base, "kind": "model", "size": list(size), "impl": "efficient", "precision": precision}
    row = run_child(spec)
    if "error" not in row:
        row["fps"] = round(1.0 / row["median_s"], 3)
    return row


def _pool(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    times = [t for r in ok for t in r["times_s"]]
    return {**ok[0], "rounds": len(ok), "times_s": times, "median_s": round(statistics.median(times), 3),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in ok)}  # fmt: skip


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    base = {
        "device": args.device,
        "repeats": args.repeats,
        "depth": args.depth,
        "num_classes": args.num_classes,
    }
    rows: list[dict[str, Any]] = []
    limit_runs = [_machine_limits(base, "start")]
    for part in ("pam", "model"):
        if part in args.parts:
            for size in args.sizes:
                runs: dict[str, list[dict[str, Any]]] = {impl: [] for impl in args.impls}
                for _ in range(max(1, args.rounds)):
                    for impl in args.impls:
                        runs[impl].append(run_child({**base, "kind": part, "size": list(size), "impl": impl}))
                rows += [_pool(r) for r in runs.values()]
                if part == "model":
                    rows += [_precision_row(base, size, p) for p in args.precisions if p != "fp32"]
    if "bf16" in args.parts:
        spec = {**base, "kind": "bf16", "size": list(args.bf16_size), "impl": "efficient",
                "checkpoint": args.checkpoint, "image": args.image}  # fmt: skip
        bf = run_child(spec)
        if "error" not in bf:
            bf["bf16_speedup"] = round(bf["fp32_median_s"] / bf["bf16_median_s"], 3)
        rows.append(bf)
    limit_runs.append(_machine_limits(base, "end"))
    limits = _best_limits(limit_runs)
    return {
        "benchmark": "model",
        "torch": torch.__version__,
        "cpu_count": os.cpu_count(),
        "load_average_at_end": [round(v, 2) for v in os.getloadavg()],
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "machine_limits": {"runs": limit_runs, "used": limits},
        "measurements": rows,
        "summary": _ratios(rows, limits, base),
    }


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
    else:
        sys.exit("usage: python -m danet_core.bench model ... (this module's --child is internal)")
