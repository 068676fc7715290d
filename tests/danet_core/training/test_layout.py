"""The run-folder layout has one owner (danet_core.training.layout) that writer and readers share."""

from __future__ import annotations

from pathlib import Path

from danet_core.training.layout import RunLayout, read_metrics
from danet_core.training.rundir import RunDir


def test_paths_of_a_run(tmp_path: Path) -> None:
    run = RunLayout(tmp_path / "run")
    assert run.config == tmp_path / "run" / "config.json"
    assert run.metrics == tmp_path / "run" / "metrics.jsonl"
    assert run.stop == tmp_path / "run" / "STOP"
    assert run.last == tmp_path / "run" / "checkpoints" / "last.pt"
    assert run.best == tmp_path / "run" / "checkpoints" / "best.pt"
    assert RunLayout.of_checkpoint(run.last) == run
    assert RunLayout.of(str(run.path)) == run


def test_the_writer_uses_the_layout(tmp_path: Path) -> None:
    writer = RunDir(tmp_path / "run")
    layout = RunLayout(tmp_path / "run")
    assert (writer.last, writer.best, writer.metrics_path, writer.stop_path) == (
        layout.last,
        layout.best,
        layout.metrics,
        layout.stop,
    )
    writer.write_config({"lr": 0.01})
    writer.log({"type": "train", "iter": 1, "loss": 2.0})
    assert layout.config.is_file() and layout.checkpoints.is_dir()
    assert [r["iter"] for r in read_metrics(layout.metrics)] == [1]


def test_read_metrics_skips_a_partial_last_line(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"type": "train", "iter": 1}\n\n{"type": "train", "iter": 2}\n{"type": "tr')
    assert [r["iter"] for r in read_metrics(path)] == [1, 2]
