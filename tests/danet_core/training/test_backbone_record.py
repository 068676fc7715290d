"""The metrics log says how a new model's backbone started, so the app can say it plainly (issue 11)."""

from __future__ import annotations

from pathlib import Path

from danet_core.training import train
from danet_core.training.layout import RunLayout, read_metrics
from tests.danet_core.training.train_helpers import make_folder_dataset, tiny_config


def test_train_records_name_the_backbone_start(tmp_path: Path) -> None:
    root = make_folder_dataset(tmp_path / "data", n_train=2, n_val=0)
    cfg = tiny_config(
        root, tmp_path / "run", max_iters=1, model_options={"depth": 18, "pretrained_backbone": "auto"}
    )
    train(cfg)  # offline in tests (DANET_OFFLINE=1): "auto" falls back to random weights
    recs = [r for r in read_metrics(RunLayout(tmp_path / "run").metrics) if r["type"] == "train"]
    assert recs and all(r["backbone_init"] == "random" for r in recs)
