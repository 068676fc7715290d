"""BN folding: the inference copy computes what the model computes, and the model is left alone."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from danet_core.inference import forward_logits
from danet_core.models import get_model
from danet_core.models.fuse import cached_folded_copy, folded_copy, for_inference


def _model(stem: str, depth: int) -> nn.Module:
    torch.manual_seed(0)
    model = get_model("danet", depth=depth, num_classes=5, stem=stem, aux=True, pretrained_backbone=False)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):  # non-trivial statistics, or folding would be a no-op
                m.running_mean.uniform_(-1, 1)
                m.running_var.uniform_(0.5, 2)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
            if hasattr(m, "gamma"):
                m.gamma.fill_(0.5)
    return model.eval()


@pytest.mark.parametrize(("stem", "depth"), [("torchvision", 18), ("v1c", 18), ("deep", 50)])
def test_folded_copy_matches_and_has_no_batchnorm(stem, depth):
    model = _model(stem, depth)
    x = torch.randn(1, 3, 48, 64)
    with torch.inference_mode():
        want = model(x)["out"]
        got = forward_logits(model, x)
    assert (got - want).abs().max() <= 1e-4 * want.abs().max()
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded_copy(model).modules())
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the model keeps its BNs


def test_forward_out_is_the_fused_output():
    model = _model("torchvision", 18)
    x = torch.randn(1, 3, 40, 56)
    with torch.no_grad():
        torch.testing.assert_close(model.forward_out(x), model(x)["out"])


def test_cached_copy_is_shared_and_refreshed_when_weights_change():
    model = _model("torchvision", 18)
    first = cached_folded_copy(model)
    assert cached_folded_copy(model) is first
    with torch.no_grad():
        model.head.cls[1].bias.add_(1.0)  # an optimizer step changes weights in place
    second = cached_folded_copy(model)
    assert second is not first
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        assert (forward_logits(model, x) - model(x)["out"]).abs().max() <= 1e-4 * model(x)["out"].abs().max()


def test_for_inference_model_is_used_as_it_is():
    model = _model("torchvision", 18)
    x = torch.randn(1, 3, 40, 56)
    with torch.inference_mode():
        want = model(x)["out"]
    kept = for_inference(model)
    assert cached_folded_copy(kept) is kept  # nothing left to fold: no second copy of the weights
    with torch.inference_mode():
        assert (forward_logits(kept, x) - want).abs().max() <= 1e-4 * want.abs().max()


def test_cached_copy_follows_config_changes_on_the_model():
    model = _model("torchvision", 18)
    first = cached_folded_copy(model)
    model.config.align_corners = not model.config.align_corners  # protocols switch it per evaluation
    second = cached_folded_copy(model)
    assert second is not first and second.config.align_corners == model.config.align_corners
    model.set_pam_impl("naive")
    assert cached_folded_copy(model) is not second
