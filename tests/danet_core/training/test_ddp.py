"""Two gloo processes under torchrun: the run completes and rank 0 alone writes one checkpoint and log."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from train_helpers import tiny_config

from danet_core.checkpoints import load_checkpoint
from danet_core.training.rundir import read_metrics


def test_two_process_gloo_ddp_run_writes_one_checkpoint(tiny_root: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "ddp"
    cfg = tiny_config(tiny_root, run_dir, max_iters=3, batch_size=1, val_split="val", device="cpu")
    cfg_file = tmp_path / "ddp.json"
    cfg.save_json(cfg_file)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[3])}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "danet_core.cli", "train", "--config", str(cfg_file), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    ckpt = load_checkpoint(run_dir / "checkpoints" / "last.pt")
    assert ckpt["train_state"]["iteration"] == 3
    # 6 images, 2 processes x batch 1 -> 3 iterations per epoch; the DDP wrapper is not in the keys
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    records = read_metrics(run_dir / "metrics.jsonl")
    assert [r["iter"] for r in records if r["type"] == "train"] == [1, 2, 3]  # rank 0 only, no duplicates
    ends = [r for r in records if r["type"] == "end"]
    assert len(ends) == 1 and ends[0]["status"] == "completed"
    assert "DDP: rank 1/2" in proc.stderr and "DDP: rank 0/2" in proc.stderr
