"""``danet train`` / ``danet eval`` from the command line: help, config precedence, a real run, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "training"))
from train_helpers import make_folder_dataset  # noqa: E402

from danet_core.cli import build_parser, main  # noqa: E402
from danet_core.commands.train import config_from_args  # noqa: E402


def test_help_explains_train_and_eval(capsys) -> None:
    outputs = {}
    for cmd in ("train", "eval"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        outputs[cmd] = capsys.readouterr().out
        assert "example" in outputs[cmd]
    assert "STOP" in outputs["train"] and "--resume" in outputs["train"] and "torchrun" in outputs["train"]
    assert "--eval-mode" in outputs["eval"]


def test_command_line_overrides_the_config_file_and_set_overrides_both(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("data_root: /d\nlr: 0.5\nbatch_size: 4\nmodel_options: {depth: 50, aux: true}\n")
    args = build_parser().parse_args(
        ["train", "--config", str(cfg_file), "--lr", "0.1", "--depth", "18", "--crop-size", "64,96",
         "--set", "warmup_iters=7", "--val-split", "none"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.lr == 0.1 and cfg.batch_size == 4 and cfg.warmup_iters == 7
    assert cfg.model_options == {"depth": 18, "aux": True}
    assert cfg.crop_size == (64, 96) and cfg.val_split is None


def test_train_then_eval_end_to_end(tmp_path: Path, capsys) -> None:
    root = make_folder_dataset(tmp_path / "data")
    run = tmp_path / "run"
    code = main(
        ["train", "--dataset", "folder", "--data-root", str(root), "--label-set", str(root / "labels.json"),
         "--depth", "18", "--crop-size", "32", "--batch-size", "2", "--max-iters", "2", "--workers", "0",
         "--threads", "1", "--run-dir", str(run), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "completed" and Path(summary["best"]).is_file()
    out_json = tmp_path / "eval.json"
    code = main(
        ["eval", summary["best"], "--dataset", "folder", "--data-root", str(root), "--label-set",
         str(root / "labels.json"), "--split", "val", "--eval-mode", "multiscale", "--eval-scales", "1.0",
         "--eval-flip", "--threads", "1", "--out", str(out_json), "--no-progress"]
    )  # fmt: skip
    assert code == 0
    result = json.loads(out_json.read_text())
    assert result["images"] == 2 and set(result["per_class_iou"]) == {"red", "green", "blue"}
    assert result["flip"] is True and 0.0 <= result["miou"] <= 1.0
    # the resumed config comes from the run directory: --resume alone is enough
    args = build_parser().parse_args(["train", "--resume", str(run), "--max-iters", "3"])
    cfg = config_from_args(args)
    assert cfg.resume == str(run) and cfg.max_iters == 3 and cfg.data_root == str(root)


def test_bad_input_is_one_line_and_exit_status_1(tmp_path: Path, capsys) -> None:
    code = main(["train", "--dataset", "folder", "--data-root", str(tmp_path / "nowhere"), "--no-progress"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("danet: error:") and "nowhere" in err and len(err.splitlines()) == 1
    bad = tmp_path / "c.yaml"
    bad.write_text("learning_rate: 1\n")
    assert main(["train", "--config", str(bad)]) == 1
    assert "unknown key 'learning_rate'" in capsys.readouterr().err
    assert main(["eval", str(tmp_path / "missing.pt"), "--data-root", str(tmp_path)]) == 1
