"""Model shapes for every backbone and stem, dilation layout, configs, registry, backbone weights."""

from __future__ import annotations

import logging
import urllib.error
from pathlib import Path

import pytest
import torch

from danet_core.models import BackboneWeightsError, ModelConfig, build_model, get_model
from danet_core.models import backbone as backbone_mod


@pytest.mark.parametrize("depth", [18, 34, 50, 101])
@pytest.mark.parametrize("stem", ["torchvision", "v1c", "deep"])
def test_output_shapes_and_keys_for_every_backbone_and_stem(depth, stem):
    torch.manual_seed(0)
    model = get_model("danet", depth=depth, num_classes=3, stem=stem, aux=True).eval()
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        c3, c4 = model.backbone(x)
        out = model(x)
    assert set(out) == {"out", "pam", "cam", "aux"}
    assert all(v.shape == (1, 3, 40, 56) for v in out.values())
    assert c3.shape[-2:] == c4.shape[-2:] == (5, 7)  # output stride 8
    assert (c3.shape[1], c4.shape[1]) == model.backbone.channels
    assert c4.shape[1] == (2048 if depth >= 50 else 512)


def test_fcn_outputs_and_has_no_attention():
    model = get_model("fcn", depth=18, num_classes=4, aux=True).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 48))
    assert set(out) == {"out", "aux"} and out["out"].shape == (2, 4, 32, 48)
    names = [n for n, _ in model.named_modules()]
    assert not any(n.endswith(("pam", "cam")) for n in names)
    assert tuple(model.head[0].weight.shape) == (128, 512, 3, 3)  # 3x3 conv to Cin/4


def test_dilation_layout_default_and_multi_grid():
    default = get_model("danet", depth=50, num_classes=2).backbone
    assert [b.conv2.dilation[0] for b in default.layer3] == [1] + [2] * 5
    assert [b.conv2.dilation[0] for b in default.layer4] == [2, 4, 4]
    assert all(b.conv2.stride == (1, 1) for b in list(default.layer3) + list(default.layer4))
    grid = get_model("danet", depth=50, num_classes=2, multi_grid=(4, 8, 16)).backbone
    assert [b.conv2.dilation[0] for b in grid.layer4] == [4, 8, 16]
    assert [b.conv2.padding[0] for b in grid.layer4] == [4, 8, 16]


def test_stem_parameter_layouts():
    v1c = get_model("danet", depth=18, num_classes=2, stem="v1c").backbone.state_dict()
    assert v1c["stem.0.weight"].shape == (32, 3, 3, 3) and v1c["stem.6.weight"].shape == (64, 32, 3, 3)
    assert "stem.7.running_mean" in v1c and "conv1.weight" not in v1c
    deep = get_model("danet", depth=50, num_classes=2, stem="deep").backbone.state_dict()
    assert deep["conv1.6.weight"].shape == (128, 64, 3, 3) and deep["bn1.weight"].shape == (128,)
    assert deep["layer1.0.conv1.weight"].shape == (64, 128, 1, 1)


def test_eval_mode_is_deterministic():
    torch.manual_seed(0)
    model = get_model("danet", depth=18, num_classes=3).eval()
    with torch.no_grad():
        model.head.pam.gamma.fill_(0.3)
        x = torch.randn(1, 3, 48, 48)
        a, b = model(x), model(x)
    for k in a:
        assert torch.equal(a[k], b[k])


def test_config_round_trip_rebuilds_the_same_architecture():
    model = get_model(
        "danet", depth=18, num_classes=7, stem="v1c", multi_grid=[1, 2], aux=True, align_corners=False
    )
    data = model.config.to_dict()
    assert data["multi_grid"] == [1, 2]
    rebuilt = build_model(ModelConfig.from_dict(data))
    assert rebuilt.config == model.config
    rebuilt.load_state_dict(model.state_dict())  # strict: identical parameter layout


@pytest.mark.parametrize(
    "bad, match",
    [
        ({"depth": 42}, "depth"),
        ({"stem": "v1d"}, "stem"),
        ({"num_classes": 0}, "num_classes"),
        ({"pam_impl": "flash"}, "pam_impl"),
    ],
)
def test_bad_config_values_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        get_model("danet", **{"depth": 18, "num_classes": 2, **bad})


def test_unknown_model_and_config_keys():
    with pytest.raises(ValueError, match="expected one of"):
        get_model("pspnet", depth=18, num_classes=2)
    with pytest.raises(ValueError, match="unknown model config keys"):
        ModelConfig.from_dict({"depth": 18, "colour": "red"})


def test_set_pam_impl_keeps_the_result():
    torch.manual_seed(0)
    model = get_model("danet", depth=18, num_classes=3).eval()
    with torch.no_grad():
        model.head.pam.gamma.fill_(1.0)
        x = torch.randn(1, 3, 48, 40)
        eff = model(x)["out"]
        model.set_pam_impl("naive")
        naive = model(x)["out"]
    assert model.config.pam_impl == "naive" and model.head.pam.impl == "naive"
    assert (eff - naive).abs().max() <= 1e-4


def _offline(*args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


def test_pretrained_backbone_offline_fails_fast_with_advice(monkeypatch):
    monkeypatch.delenv("DANET_OFFLINE")
    monkeypatch.setattr(
        type(backbone_mod.tv_resnet.ResNet18_Weights.IMAGENET1K_V1), "get_state_dict", _offline
    )
    with pytest.raises(BackboneWeightsError, match=r"ResNet-18.*pretrained_backbone=False"):
        get_model("danet", depth=18, num_classes=2, pretrained_backbone=True)


def test_pretrained_backbone_random_fallback_only_when_allowed(monkeypatch, caplog):
    monkeypatch.delenv("DANET_OFFLINE")
    monkeypatch.setattr(
        type(backbone_mod.tv_resnet.ResNet18_Weights.IMAGENET1K_V1), "get_state_dict", _offline
    )
    with caplog.at_level(logging.WARNING):
        model = get_model(
            "danet", depth=18, num_classes=2, pretrained_backbone=True, allow_random_fallback=True
        )
    assert model.backbone_init == "random" and "starts from RANDOM weights" in caplog.text


def test_pretrained_backbone_loads_torchvision_weights(monkeypatch):
    monkeypatch.delenv("DANET_OFFLINE")
    donor = backbone_mod.tv_resnet.resnet18()
    monkeypatch.setattr(
        type(backbone_mod.tv_resnet.ResNet18_Weights.IMAGENET1K_V1),
        "get_state_dict",
        lambda *a, **k: donor.state_dict(),
    )
    model = get_model("danet", depth=18, num_classes=2, pretrained_backbone=True)
    assert torch.equal(model.backbone.layer4[1].conv2.weight, donor.layer4[1].conv2.weight)
    assert torch.equal(model.backbone.conv1.weight, donor.conv1.weight)


def test_auto_backbone_uses_imagenet_weights_when_cached_else_says_random(monkeypatch, caplog):
    # DANET_OFFLINE (set for every test) and an empty torch cache: no download is even tried
    with caplog.at_level(logging.WARNING):
        model = get_model("danet", depth=18, num_classes=2, pretrained_backbone="auto")
    assert model.backbone_init == "random"
    assert "not in the torch cache" in caplog.text and "starts from RANDOM weights" in caplog.text
    donor = backbone_mod.tv_resnet.resnet18()
    url = backbone_mod.tv_resnet.ResNet18_Weights.IMAGENET1K_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / Path(url).name
    cached.parent.mkdir(parents=True)
    torch.save(donor.state_dict(), cached)  # as torchvision leaves it after a download
    model = get_model("danet", depth=18, num_classes=2, pretrained_backbone="auto")
    assert model.backbone_init == "imagenet:IMAGENET1K_V1"
    assert torch.equal(model.backbone.layer3[0].conv1.weight, donor.layer3[0].conv1.weight)


def test_training_from_scratch_defaults_to_auto_backbone_weights(caplog):
    from danet_core.training.config import TrainConfig
    from danet_core.training.state import build_fresh_model

    with caplog.at_level(logging.WARNING):
        model = build_fresh_model(TrainConfig(model_options={"depth": 18}), 3)
    assert model.backbone_init == "random" and "RANDOM weights" in caplog.text
    assert build_fresh_model(TrainConfig(model_options={"depth": 18, "pretrained_backbone": False}), 3)
