"""Import round trips: official and mmseg DANet state dicts (exact key names) -> identical outputs."""

from __future__ import annotations

import pytest
import torch
from reference_danets import MMSegDANet, OfficialDANet, randomise

from danet_core.checkpoints import CheckpointError, load_model, save_checkpoint
from danet_core.models import convert


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    return torch.randn(1, 3, 40, 48, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("deep_stem", [False, True])
def test_official_layout_imports_with_identical_outputs(tmp_path, x, deep_stem):
    ref = randomise(OfficialDANet(5, deep_stem=deep_stem, multi_grid=(4, 8, 16)))
    state = dict(ref.state_dict())
    state["pretrained.fc.weight"] = torch.zeros(1000, 2048)  # present in the release; ignored
    state["pretrained.fc.bias"] = torch.zeros(1000)
    torch.save({"epoch": 240, "state_dict": state, "best_pred": 0.8}, tmp_path / "danet.pth.tar")
    model = load_model(tmp_path / "danet.pth.tar")  # source auto-detected; multi_grid 4,8,16 by default
    assert model.meta.source == "official" and model.meta.config.stem == (
        "deep" if deep_stem else "torchvision"
    )
    assert model.meta.config.align_corners is True and model.meta.config.multi_grid == (4, 8, 16)
    with torch.no_grad():
        expected, out = ref(x), model(x)
    for e, key in zip(expected, ("out", "pam", "cam"), strict=True):
        _close(out[key], e)


def test_official_layout_keyword_options_and_native_round_trip(tmp_path, x):
    ref = randomise(OfficialDANet(4, multi_grid=None), seed=1)
    torch.save({"state_dict": ref.state_dict()}, tmp_path / "ref.pth")
    model = load_model(tmp_path / "ref.pth", source="official", multi_grid=None)
    with torch.no_grad():
        expected = ref(x)[0]
        _close(model(x)["out"], expected)
    m = model.meta
    save_checkpoint(tmp_path / "native.pt", model, classes=m.classes, mean=m.mean, std=m.std, extra=m.extra)
    native = load_model(tmp_path / "native.pt")
    assert native.meta.config == model.meta.config and native.meta.extra["source"] == "official"
    with torch.no_grad():
        _close(native(x)["out"], expected)


def test_mmseg_layout_imports_with_identical_outputs(tmp_path, x):
    ref = randomise(MMSegDANet(6), seed=2)
    classes = [f"k{i}" for i in range(6)]
    palette = [[i * 10, 0, 255 - i] for i in range(6)]
    meta = {"dataset_meta": {"classes": classes, "palette": palette}}
    torch.save({"meta": meta, "state_dict": ref.state_dict()}, tmp_path / "mmseg.pth")
    model = load_model(tmp_path / "mmseg.pth")
    c = model.meta.config
    assert (model.meta.source, c.stem, c.depth, c.num_classes, c.aux, c.aux_channels) == (
        "mmseg",
        "v1c",
        50,
        6,
        True,
        256,
    )
    assert c.align_corners is False and c.multi_grid is None
    assert [k["name"] for k in model.meta.classes] == classes and model.meta.classes[3]["color"] == [
        30,
        0,
        252,
    ]
    assert model.meta.mean == pytest.approx((123.675 / 255, 116.28 / 255, 103.53 / 255))
    assert model.meta.std == pytest.approx((58.395 / 255, 57.12 / 255, 57.375 / 255))
    with torch.no_grad():
        expected, out = ref(x), model(x)
    for e, key in zip(expected, ("out", "pam", "cam", "aux"), strict=True):
        _close(out[key], e)


def test_unknown_and_missing_keys_are_summarised(tmp_path):
    ref = randomise(MMSegDANet(3))
    state = dict(ref.state_dict())
    state["decode_head.bottleneck.weight"] = torch.zeros(1)
    torch.save({"state_dict": state}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointError, match=r"extra\.pth: 1 keys unknown to the mmseg.*bottleneck"):
        load_model(tmp_path / "extra.pth")
    del state["decode_head.bottleneck.weight"]
    del state["decode_head.pam.value_project.weight"]
    torch.save({"state_dict": state}, tmp_path / "missing.pth")
    with pytest.raises(CheckpointError, match=r"missing 1: head\.pam\.value\.weight"):
        load_model(tmp_path / "missing.pth", source="mmseg")


def test_depth_and_block_type_inferred_from_keys():
    def fake(blocks, bottleneck):
        state = {"backbone.conv1.weight": torch.zeros(1), "head.cls.1.weight": torch.zeros(7, 1, 1, 1)}
        for i, n in enumerate(blocks, 1):
            for j in range(n):
                state[f"backbone.layer{i}.{j}.conv1.weight"] = torch.zeros(1)
                if bottleneck:
                    state[f"backbone.layer{i}.{j}.conv3.weight"] = torch.zeros(1)
        return state

    assert convert.infer_architecture(fake((3, 4, 23, 3), True))["depth"] == 101
    assert convert.infer_architecture(fake((3, 4, 6, 3), True))["depth"] == 50
    assert convert.infer_architecture(fake((3, 4, 6, 3), False))["depth"] == 34
    assert convert.infer_architecture(fake((2, 2, 2, 2), False))["num_classes"] == 7
    with pytest.raises(ValueError, match="blocks per stage"):
        convert.infer_architecture(fake((3, 8, 36, 3), True))
