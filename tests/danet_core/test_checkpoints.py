"""Native checkpoints: self-describing round trip, atomic writes, safe loading, clear errors."""

from __future__ import annotations

import os

import pytest
import torch

import danet_core
from danet_core.checkpoints import CheckpointError, load_checkpoint, load_model, save_checkpoint
from danet_core.models import get_model

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def _classes(k: int) -> list[dict]:
    return [{"name": f"c{i}", "color": [i, 2 * i, 255 - i], "train_id": i} for i in range(k)]


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    model = get_model(
        "danet", depth=18, num_classes=3, stem="v1c", multi_grid=(1, 2), aux=True, align_corners=False
    )
    with torch.no_grad():
        model.head.pam.gamma.fill_(0.4)
        model.head.cam.gamma.fill_(0.2)
    return model.eval()


@pytest.fixture
def saved(tmp_path, tiny_model):
    path = tmp_path / "model.pt"
    opt = torch.optim.SGD(tiny_model.parameters(), lr=0.01, momentum=0.9)
    train_state = {"epoch": 3, "optimizer": opt.state_dict(), "best_miou": 0.41}
    save_checkpoint(
        path,
        tiny_model,
        classes=_classes(3),
        mean=MEAN,
        std=STD,
        train_state=train_state,
        extra={"note": "x"},
    )
    return path


def test_native_round_trip_rebuilds_model_and_meta(saved, tiny_model):
    model = danet_core.load_model(saved)
    assert not model.training
    meta = model.meta
    assert meta.config == tiny_model.config and meta.classes == _classes(3)
    assert meta.mean == MEAN and meta.std == STD and meta.extra == {"note": "x"}
    x = torch.randn(1, 3, 48, 40)
    with torch.no_grad():
        a, b = tiny_model(x), model(x)
    assert set(a) == set(b) == {"out", "pam", "cam", "aux"}
    assert all(torch.equal(a[k], b[k]) for k in a)
    raw = load_checkpoint(saved)
    assert (
        raw["train_state"]["epoch"] == 3 and raw["train_state"]["optimizer"]["param_groups"][0]["lr"] == 0.01
    )


def test_native_pam_impl_override_only(saved):
    assert load_model(saved, pam_impl="naive").head.pam.impl == "naive"
    with pytest.raises(ValueError, match="only pam_impl"):
        load_model(saved, depth=50)


def test_failed_save_leaves_previous_checkpoint_intact(saved, tiny_model):
    before = saved.read_bytes()
    with pytest.raises(ValueError, match="2 classes given for a model with 3 outputs"):
        save_checkpoint(saved, tiny_model, classes=_classes(2), mean=MEAN, std=STD)
    with pytest.raises(ValueError, match="colour"):
        save_checkpoint(
            saved, tiny_model, classes=[{"name": "a", "color": [300, 0, 0]}] * 3, mean=MEAN, std=STD
        )
    assert saved.read_bytes() == before
    assert sorted(os.listdir(saved.parent)) == ["model.pt"]  # no temp files left


class _Exploit:
    def __reduce__(self):
        return (os.system, (f"touch {os.environ['DANET_TEST_MARKER']}",))


def test_pickle_that_would_run_code_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    monkeypatch.setenv("DANET_TEST_MARKER", str(marker))
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": _Exploit()}, path)
    with pytest.raises(CheckpointError, match=r"evil\.pt: refused to load.*could run code"):
        load_model(path)
    assert not marker.exists()


def test_truncated_checkpoint(saved, tmp_path):
    data = saved.read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.pt: cannot read as a PyTorch checkpoint.*truncated"):
        load_model(cut)


@pytest.mark.parametrize(
    "content, match",
    [
        (b"hello, not a model", "cannot read as a PyTorch checkpoint"),
        ({"weights": {"fc.weight": torch.zeros(2)}}, "unrecognised layout"),
        ([torch.zeros(2)], "holds a list; expected a dict"),
    ],
)
def test_foreign_files_get_one_clear_error(tmp_path, content, match):
    path = tmp_path / "foreign.bin"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    with pytest.raises(CheckpointError, match=rf"foreign\.bin: .*{match}"):
        load_model(path)


def test_missing_file_and_wrong_source(tmp_path, saved):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        load_model(tmp_path / "nope.pt")
    with pytest.raises(ValueError, match="checkpoint source"):
        load_model(saved, source="caffe")
    with pytest.raises(CheckpointError, match="not a native checkpoint"):
        torch.save({"state_dict": {"pretrained.conv1.weight": torch.zeros(1)}}, tmp_path / "o.pth")
        load_model(tmp_path / "o.pth", source="native")


def test_native_weights_that_do_not_fit(saved, tmp_path):
    data = load_checkpoint(saved)
    data["state_dict"]["head.cls.1.weight"] = torch.zeros(5, 128, 1, 1)
    torch.save(data, tmp_path / "bad.pt")
    with pytest.raises(
        CheckpointError, match=r"bad\.pt: weights do not fit.*wrong shape 1: head\.cls\.1\.weight"
    ):
        load_model(tmp_path / "bad.pt")
    data["format_version"] = 99
    torch.save(data, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        load_model(tmp_path / "future.pt")
