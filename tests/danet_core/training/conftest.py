"""Fixtures of the training tests (helpers live in train_helpers.py so test modules can import them)."""

from __future__ import annotations

from pathlib import Path

import pytest
from train_helpers import make_folder_dataset, tiny_config

from danet_core.training import TrainConfig


@pytest.fixture
def tiny_root(tmp_path: Path) -> Path:
    return make_folder_dataset(tmp_path / "data")


@pytest.fixture
def make_cfg(tiny_root: Path, tmp_path: Path):
    def _make(name: str = "run", **overrides) -> TrainConfig:
        return tiny_config(tiny_root, tmp_path / name, **overrides)

    return _make
