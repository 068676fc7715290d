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
    # no test reaches the internet: ImageNet backbone weights come from an empty torch cache or nowhere
    # (training from scratch then falls back to random weights); download tests use a 127.0.0.1 server
    monkeypatch.setenv("TORCH_HOME", str(home / ".cache" / "torch"))
    monkeypatch.setenv("DANET_OFFLINE", "1")
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


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    """A DANet-18 with random weights and the 11 CamVid classes, saved as a native checkpoint."""
    import torch

    from danet_core.checkpoints import save_checkpoint
    from danet_core.labels import get_label_set
    from danet_core.models import get_model

    torch.manual_seed(0)
    model = get_model("danet", depth=18, num_classes=11).eval()
    classes = [
        {"name": c.name, "color": list(c.color), "train_id": c.train_id}
        for c in get_label_set("camvid").train_classes()
    ]
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    save_checkpoint(path, model, classes=classes, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    return path


@pytest.fixture(scope="session")
def make_danet():
    """A factory of tiny random DANet-R18s in eval mode with the attention switched on (PAM/CAM gammas,
    0 at init) and a sharper classifier, so that every path and the label map matter in a test."""

    def make(num_classes: int, *, seed: int = 0, pam: float = 0.5, cam: float = 0.0, cls_scale: float = 1.0):
        import torch

        from danet_core.models import get_model

        torch.manual_seed(seed)
        m = get_model("danet", depth=18, num_classes=num_classes).eval()
        with torch.no_grad():
            m.head.pam.gamma.fill_(pam)
            m.head.cam.gamma.fill_(cam)
            m.head.cls[1].weight.mul_(cls_scale)
        return m

    return make


@pytest.fixture(scope="session")
def write_images():
    """A factory writing ``n`` random RGB PNGs ``{prefix}{i}.png`` of ``h`` x ``w`` into a new folder."""

    def write(folder: Path, n: int, h: int, w: int, prefix: str = "img") -> Path:
        import numpy as np
        from PIL import Image

        folder.mkdir(parents=True)
        rng = np.random.default_rng(0)
        for i in range(n):
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(folder / f"{prefix}{i}.png")
        return folder

    return write
