"""Training-step throughput (images/s) of DANet, efficient vs naive position attention.

One training step = forward, the DANet loss (out + pam + cam), backward and an SGD step, on random
images and labels (throughput does not depend on the pixel values). Both PAM implementations run with the
same weights and the same batch; their losses must agree (``loss_max_abs_diff``), so the speed-up is not
bought with a different computation. Defaults: DANet-R50 at 512x512, batch 2 (the paper's crop size).
Memory: CUDA peak allocated per implementation; on CPU the process's peak RSS so far (monotonic, so the
naive figure, measured second, bounds both).
"""

from __future__ import annotations

import argparse
import logging
import platform
import resource
import time
from typing import Any

import torch

from danet_core.inference import AUTOCAST_DTYPES
from danet_core.options import DEVICE_AUTO, DEVICE_HELP, PRECISIONS, resolve_device

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="danet", choices=["danet", "fcn"])
    parser.add_argument("--depth", type=int, default=50, choices=[18, 34, 50, 101])
    parser.add_argument("--size", type=int, default=512, help="square crop size (default 512)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--classes", type=int, default=19)
    parser.add_argument("--steps", type=int, default=3, help="timed steps per implementation")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--impls", default="efficient,naive", help="PAM implementations to compare")
    parser.add_argument("--precision", default="fp32", choices=PRECISIONS)
    parser.add_argument("--device", default=DEVICE_AUTO, help=DEVICE_HELP)
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")


def _device(name: str) -> torch.device:
    return torch.device(resolve_device(name))


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _peak_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _measure(args: argparse.Namespace, impl: str, device: torch.device, batch: tuple) -> dict[str, Any]:
    from danet_core.models import get_model
    from danet_core.training.losses import SegLoss

    torch.manual_seed(0)
    model = (
        get_model(args.model, depth=args.depth, num_classes=args.classes, pam_impl=impl).to(device).train()
    )
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, weight_decay=1e-4)
    crit = SegLoss().to(device)
    dtype = AUTOCAST_DTYPES[args.precision]
    scaler = torch.amp.GradScaler(device.type, enabled=args.precision == "fp16")
    x, y = (t.to(device) for t in batch)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times, first_loss = [], None
    for i in range(args.warmup + args.steps):
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            out = model(x)
        loss, _ = crit(out, y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        dt = time.perf_counter() - t0
        if first_loss is None:
            first_loss = loss.item()
        if i >= args.warmup:
            times.append(dt)
        log.info("%s step %d: %.2f s", impl, i, dt)
    mean = sum(times) / len(times)
    return {
        "impl": impl,
        "seconds_per_step": round(mean, 4),
        "seconds_per_step_min": round(min(times), 4),
        "images_per_s": round(args.batch / mean, 4),
        "first_loss": first_loss,
        "peak_memory_mb": round(_peak_mb(device), 1),
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    if args.threads:
        torch.set_num_threads(args.threads)
    device = _device(args.device)
    g = torch.Generator().manual_seed(0)
    batch = (
        torch.randn(args.batch, 3, args.size, args.size, generator=g),
        torch.randint(0, args.classes, (args.batch, args.size, args.size), generator=g),
    )
    results = [_measure(args, impl.strip(), device, batch) for impl in args.impls.split(",") if impl.strip()]
    out: dict[str, Any] = {
        "benchmark": "train",
        "model": f"{args.model}-r{args.depth}",
        "input": [args.batch, 3, args.size, args.size],
        "precision": args.precision,
        "device": str(device) if device.type == "cpu" else torch.cuda.get_device_name(device),
        "cpu": _cpu_name(),
        "threads": torch.get_num_threads(),
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "results": results,
    }
    by = {r["impl"]: r for r in results}
    if "efficient" in by and "naive" in by:
        out["speedup_efficient_vs_naive"] = round(
            by["naive"]["seconds_per_step"] / by["efficient"]["seconds_per_step"], 3
        )
        out["loss_max_abs_diff"] = abs(by["naive"]["first_loss"] - by["efficient"]["first_loss"])
    return out
