"""The training engine end to end on tiny models: loss goes down on real images, exact resume, clean
stops (STOP file, callback, time budget), NaN detection that keeps the last good checkpoint, clear errors."""

from __future__ import annotations

import json
import logging
import math
import shutil
from pathlib import Path

import pytest
import torch
from train_helpers import TINY_LABELS, tiny_config, train_losses

from danet_core.checkpoints import load_checkpoint, load_model
from danet_core.jobs import Cancelled
from danet_core.training import ResumeError, TrainConfig, TrainingDiverged, train
from danet_core.training.rundir import read_metrics


def _records(run_dir: Path, kind: str) -> list[dict]:
    return [r for r in read_metrics(Path(run_dir) / "metrics.jsonl") if r["type"] == kind]


def test_a_few_iterations_lower_the_loss_on_real_camvid_images(camvid_root: Path, tmp_path: Path) -> None:
    cfg = TrainConfig(
        dataset="folder", data_root=str(camvid_root), label_set="camvid", train_limit=4, val_limit=2,
        model="danet", model_options={"depth": 18}, base_scale=0.25, scale_range=(0.75, 1.25),
        crop_size=(64, 64), color_jitter=0.0, batch_size=4, max_iters=16, lr=0.02, log_interval=1,
        val_interval=0, eval_mode="multiscale", eval_scales=(0.25,), num_workers=0, threads=1,
        run_dir=str(tmp_path / "run"),
    )  # fmt: skip
    result = train(cfg)
    losses = train_losses(result.run_dir)
    assert len(losses) == 16
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses
    assert result.status == "completed" and result.last.is_file() and result.best is not None
    val = _records(result.run_dir, "val")
    assert len(val) == 1 and 0.0 <= val[0]["miou"] <= 1.0 and set(val[0]["per_class_iou"]) >= {"Sky", "Road"}
    end = _records(result.run_dir, "end")[-1]
    assert end["status"] == "completed" and end["reason"] == "max_iters" and end["iter"] == 16


def test_resume_in_the_middle_of_an_epoch_repeats_the_uninterrupted_trajectory(make_cfg) -> None:
    # 6 images, batch 2 -> 3 iterations per epoch; stopping after 4 resumes inside epoch 1
    full = train(make_cfg("full", max_iters=8))
    done = {"n": 0}

    def progress(d: int, t: int, m: str) -> None:
        if m.startswith("iteration"):
            done["n"] = d

    cfg = make_cfg("parts", max_iters=8)
    with pytest.raises(Cancelled, match="resume with --resume"):
        train(cfg, progress=progress, should_stop=lambda: done["n"] >= 4)
    assert load_checkpoint(Path(cfg.run_dir) / "checkpoints/last.pt")["train_state"]["iteration"] == 4
    assert _records(Path(cfg.run_dir), "end")[-1]["status"] == "cancelled"
    resumed = train(cfg.with_overrides({"resume": cfg.run_dir}))
    a, b = train_losses(full.run_dir), train_losses(resumed.run_dir)
    assert len(a) == len(b) == 8
    assert a == b  # bit-identical: same data order, crops, dropout masks, optimiser and schedule
    lr_a = [r["lr"] for r in _records(full.run_dir, "train")]
    assert lr_a == [r["lr"] for r in _records(resumed.run_dir, "train")]
    ends = _records(resumed.run_dir, "end")
    assert len(ends) == 1 and ends[0]["status"] == "completed"  # the log reads as one run
    wa = load_checkpoint(full.last)["state_dict"]
    wb = load_checkpoint(resumed.last)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_stop_file_stops_at_the_next_iteration_and_keeps_a_checkpoint(make_cfg) -> None:
    cfg = make_cfg(max_iters=50)
    run_dir = Path(cfg.run_dir)

    def progress(d: int, t: int, m: str) -> None:
        if m.startswith("iteration") and d == 2:
            (run_dir / "STOP").touch()

    with pytest.raises(Cancelled):
        train(cfg, progress=progress)
    end = _records(run_dir, "end")[-1]
    assert (end["status"], end["reason"], end["iter"]) == ("cancelled", "stop_file", 2)
    assert load_checkpoint(run_dir / "checkpoints/last.pt")["train_state"]["iteration"] == 2
    # resuming removes the old STOP and carries on
    result = train(cfg.with_overrides({"resume": str(run_dir), "max_iters": 3}))
    assert not (run_dir / "STOP").exists() and result.iterations == 3


def test_time_budget_ends_the_run_as_completed_with_validation(make_cfg) -> None:
    result = train(make_cfg(max_iters=10_000, max_time_s=1.5, val_split="val"))
    end = _records(result.run_dir, "end")[-1]
    assert (end["status"], end["reason"]) == ("completed", "max_time")
    assert 0 < result.iterations < 10_000
    assert result.best is not None and _records(result.run_dir, "val")[-1]["iter"] == result.iterations


def test_non_finite_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(
    make_cfg, monkeypatch
) -> None:
    from danet_core.training import engine

    calls = {"n": 0}

    class NaNAtFourth(engine.SegLoss):
        def forward(self, outputs, target):
            total, terms = super().forward(outputs, target)
            calls["n"] += 1
            return (total * math.nan if calls["n"] == 4 else total), terms

    monkeypatch.setattr(engine, "SegLoss", NaNAtFourth)
    cfg = make_cfg(max_iters=10, ckpt_interval=2)
    last = Path(cfg.run_dir) / "checkpoints/last.pt"
    with pytest.raises(
        TrainingDiverged, match=r"non-finite at iteration 4 .*last good checkpoint .*last.pt is kept"
    ):
        train(cfg)
    assert load_checkpoint(last)["train_state"]["iteration"] == 2
    end = _records(Path(cfg.run_dir), "end")[-1]
    assert (end["status"], end["reason"]) == ("failed", "non_finite_loss")


def test_validation_writes_best_and_a_loadable_self_describing_checkpoint(make_cfg) -> None:
    result = train(make_cfg(max_iters=4, val_interval=2, val_split="val"))
    val = _records(result.run_dir, "val")
    assert [r["iter"] for r in val] == [2, 4]
    assert set(val[0]["per_class_iou"]) == {"red", "green", "blue"}
    model = load_model(result.best)
    assert [c["name"] for c in model.meta.classes] == ["red", "green", "blue"]
    assert model.config.name == "danet" and model.config.depth == 18
    cfg_json = json.loads((result.run_dir / "config.json").read_text())
    assert cfg_json["max_iters"] == 4 and cfg_json["model_options"] == {"depth": 18}


def test_resume_from_another_architecture_is_refused(make_cfg) -> None:
    fcn = train(make_cfg("fcn", model="fcn", max_iters=1))
    cfg = make_cfg("danet", model="danet", max_iters=2, resume=str(fcn.last))
    with pytest.raises(
        ResumeError, match=r"last.pt: cannot resume: the checkpoint is a different model: name='fcn'"
    ):
        train(cfg)


def test_an_existing_run_is_not_overwritten_without_resume(make_cfg) -> None:
    cfg = make_cfg(max_iters=1)
    train(cfg)
    before = (Path(cfg.run_dir) / "checkpoints/last.pt").read_bytes()
    with pytest.raises(ValueError, match="already holds a run"):
        train(cfg)
    assert (Path(cfg.run_dir) / "checkpoints/last.pt").read_bytes() == before


def test_init_checkpoint_reinitialises_the_classifier_for_a_new_class_count(
    make_cfg, tiny_root: Path, tmp_path: Path, caplog
) -> None:
    first = train(make_cfg("three", max_iters=1))
    four = tmp_path / "four"
    shutil.copytree(tiny_root, four)
    labels = {**TINY_LABELS, "classes": TINY_LABELS["classes"] + [{"name": "yellow", "color": [200, 200, 0]}]}
    (four / "labels.json").write_text(json.dumps(labels))
    caplog.set_level(logging.INFO, logger="danet_core.training")
    cfg = tiny_config(four, tmp_path / "four_run", max_iters=1, lr=1e-12, init_checkpoint=str(first.last))
    result = train(cfg)
    assert "re-initialised" in caplog.text
    old, new = load_checkpoint(first.last), load_checkpoint(result.last)
    assert new["config"]["num_classes"] == 4
    key = "backbone.layer1.0.conv1.weight"
    assert torch.allclose(old["state_dict"][key], new["state_dict"][key], atol=1e-6)


def test_amp_channels_last_clipping_warmup_and_head_lr(make_cfg) -> None:
    result = train(
        make_cfg(
            max_iters=3,
            precision="bf16",
            channels_last=True,
            grad_clip=1.0,
            head_lr_mult=10.0,
            warmup_iters=2,
            warmup_ratio=0.5,
        )  # fmt: skip
    )
    recs = _records(result.run_dir, "train")
    assert all(math.isfinite(r["loss"]) for r in recs)
    assert recs[0]["lr_head"] == pytest.approx(10 * recs[0]["lr"])
    assert recs[0]["lr"] == pytest.approx(
        0.01 * 0.5
    )  # warm-up starts at lr * warmup_ratio  # warm-up starts at ratio 0.5
