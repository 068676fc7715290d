"""Sharded, resumable prediction: two gloo processes under torchrun, skip-on-rerun, failure summary."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from danet_core.batch_predict import PredictReport, predict_images, shard
from danet_core.checkpoints import load_model
from danet_core.cli import main
from danet_core.inference import Predictor

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def images(tmp_path, write_images):
    src = write_images(tmp_path / "images", 5, 24, 32)
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    return src


def test_shards_are_disjoint_and_cover_everything():
    items = list(range(11))
    parts = [shard(items, r, 3) for r in range(3)]
    assert sorted(sum(parts, [])) == items and parts[1] == [1, 4, 7, 10]
    with pytest.raises(ValueError, match="rank 3 of 3 processes"):
        shard(items, 3, 3)


def test_two_gloo_processes_split_the_work_and_rank_0_summarises(images, tmp_path, tiny_checkpoint):
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "danet_core.cli", "predict", "-c", str(tiny_checkpoint), "-o", str(out), "--device", "cpu",
           str(images)]  # fmt: skip
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode != 0, proc.stderr[-2000:]  # broken.png failed on one rank: exit status 1
    assert sorted(p.name for p in out.glob("img?.png")) == [f"img{i}.png" for i in range(5)]
    assert "DDP: rank 0/2" in proc.stderr and "DDP: rank 1/2" in proc.stderr
    summary = [ln for ln in proc.stderr.splitlines() if "predictions written to" in ln]
    assert len(summary) == 1 and "5 predictions written" in summary[0] and "1 failed" in summary[0]
    assert "1 images could not be read" in proc.stderr and "broken.png" in proc.stderr
    assert not list(out.glob("*.tmp")) and not list(out.glob(".*"))  # atomic writes left nothing behind


def test_rerun_skips_finished_images_and_overwrite_redoes_them(images, tmp_path, tiny_checkpoint, caplog):
    caplog.set_level(logging.INFO)
    out = tmp_path / "out"
    argv = ["predict", "-c", str(tiny_checkpoint), "-o", str(out), "--device", "cpu", str(images)]
    assert main(argv) == 1
    before = (out / "img0.png").stat().st_mtime_ns
    caplog.clear()
    assert main(argv) == 1 and "0 predictions written" in caplog.text and "5 already there" in caplog.text
    assert (out / "img0.png").stat().st_mtime_ns == before
    caplog.clear()
    assert main([*argv, "--overwrite"]) == 1 and "5 predictions written" in caplog.text


def test_a_failed_write_names_the_file_and_stops(images, tmp_path, tiny_checkpoint, monkeypatch, capsys):
    import danet_core.batch_predict as bp

    def full_disk(path, *a, **k):
        if "img1" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, *a, **k)

    real = bp.atomic_save_png
    monkeypatch.setattr(bp, "atomic_save_png", full_disk)
    out = tmp_path / "out"
    rc = main(["predict", "-c", str(tiny_checkpoint), "-o", str(out), "--device", "cpu", str(images)])
    err = capsys.readouterr().err
    assert rc == 1 and f"{out / 'img1_confidence.png'}: cannot write the prediction (No space left" in err
    assert "1 images written, rerun to resume" in err
    assert (out / "img0.png").exists() and not (out / "img1.png").exists()


def test_predict_images_reports_unreadable_files(images, tmp_path, tiny_checkpoint):
    pred = Predictor(load_model(tiny_checkpoint), device="cpu")
    items = [(images / "broken.png", Path("broken")), (images / "img0.png", Path("img0"))]
    report = predict_images(pred, items, tmp_path / "o", confidence=False)
    assert (
        isinstance(report, PredictReport)
        and report.written == 1
        and report.failed[0][0].endswith("broken.png")
    )
    assert not (tmp_path / "o" / "img0_confidence.png").exists()
