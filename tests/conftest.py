"""Test-wide setup: offscreen Qt, isolated HOME and settings, real-data locations, tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DANET_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CAMVID = SHARED_DATA / "camvid"
CITYSCAPES_SAMPLE = SHARED_DATA / "cityscapes_sample"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test away from the user's real HOME, QSettings and platformdirs folders."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    yield


@pytest.fixture
def camvid_root() -> Path:
    if not (CAMVID / "train").is_dir():
        pytest.skip(f"real CamVid data not found at {CAMVID} (../shared/data is absent in this checkout)")
    return CAMVID


@pytest.fixture
def cityscapes_sample_root() -> Path:
    if not (CITYSCAPES_SAMPLE / "gtFine").is_dir():
        pytest.skip(f"Cityscapes sample not found at {CITYSCAPES_SAMPLE} (../shared/data is absent)")
    return CITYSCAPES_SAMPLE
