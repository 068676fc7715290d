"""An inference copy of a model: every BatchNorm that directly follows a convolution folded into it.

Why: in eval mode a BatchNorm is a per-channel affine map, so ``bn(conv(x)) = conv'(x)`` with
``w' = w * g / sqrt(var + eps)`` and ``b' = (b - mean) * g / sqrt(var + eps) + beta``. Folding removes one
full read and write of every conv output (at 1024 x 2048 the DANet-R50 backbone's BN passes were ~5% of
the forward) and the result is the same up to float rounding (checked in tests against the unfolded model).

The folded model is a copy: the caller's model keeps its BatchNorms (training, checkpoints and state
dicts never see the folded form). Only pairs whose wiring is known to be ``bn(conv(x))`` are folded:
consecutive ``Conv2d, BatchNorm2d`` in an ``nn.Sequential`` (the heads, stems, downsample branches) and
sibling attributes ``convN`` / ``bnN`` of torchvision's ResNet blocks and our backbone's stem.
"""

from __future__ import annotations

import copy
import weakref
from typing import TypeVar

import torch
from torch import nn

ModuleT = TypeVar("ModuleT", bound=nn.Module)


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold ``bn`` (eval statistics) into ``conv`` in place; ``bn`` must then be replaced by Identity."""
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("BatchNorm without running statistics cannot be folded")
    with torch.no_grad():
        scale = (bn.weight if bn.affine else torch.ones_like(bn.running_var)) / torch.sqrt(
            bn.running_var + bn.eps
        )
        shift = bn.bias if bn.affine else torch.zeros_like(bn.running_mean)
        bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
        conv.weight = nn.Parameter(conv.weight * scale.view(-1, 1, 1, 1), requires_grad=False)
        conv.bias = nn.Parameter((bias - bn.running_mean) * scale + shift, requires_grad=False)


def _last_conv(module: nn.Module | None) -> nn.Conv2d | None:
    if isinstance(module, nn.Conv2d):
        return module
    if isinstance(module, nn.Sequential) and len(module) and isinstance(module[-1], nn.Conv2d):
        return module[-1]  # the "deep" stem: conv1 = Sequential(..., Conv2d) feeding bn1
    return None


def _fold_children(parent: nn.Module) -> int:
    folded = 0
    children = dict(parent.named_children())
    if isinstance(parent, nn.Sequential):
        names = list(children)
        for first, second in zip(names, names[1:], strict=False):
            conv, bn = children[first], children[second]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                fold_conv_bn(conv, bn)
                setattr(parent, second, nn.Identity())
                folded += 1
        return folded
    for name, child in children.items():
        if isinstance(child, nn.BatchNorm2d) and name.startswith("bn"):
            target = _last_conv(children.get("conv" + name[2:]))
            if target is not None:
                fold_conv_bn(target, child)
                setattr(parent, name, nn.Identity())
                folded += 1
    return folded


def folded_copy(model: ModuleT) -> ModuleT:
    """A deep copy of ``model`` in eval mode with its conv + BN pairs folded (see the module docstring)."""
    inference = copy.deepcopy(model).eval()
    for module in list(inference.modules()):
        _fold_children(module)
    for p in inference.parameters():
        p.requires_grad_(False)
    return inference


# One folded copy per model, shared by every Predictor over it (the app keeps a whole-image, a sliding
# and preview predictors over one model): weak keys, so a dropped model takes its copy with it.
_COPIES: weakref.WeakKeyDictionary[nn.Module, tuple[tuple[object, ...], nn.Module]] = (
    weakref.WeakKeyDictionary()
)


def _state_key(model: nn.Module) -> tuple[object, ...]:
    """Changes whenever a weight or statistic of ``model`` changes in place (optimizer step, load,
    ``.to()``: each tensor's storage address and its autograd version counter) or its architecture
    description does (``config``, e.g. ``align_corners`` or the PAM implementation set on the model)."""
    tensors = [*model.parameters(), *model.buffers()]
    pam_impls = tuple(getattr(m, "impl", None) for m in model.modules() if hasattr(m, "impl"))
    return (repr(getattr(model, "config", None)), pam_impls, *((t.data_ptr(), t._version) for t in tensors))


def for_inference(model: ModuleT) -> ModuleT:
    """The folded model to keep *instead of* ``model`` where nothing will train it (the app's active
    model, ``danet predict``, the benchmarks): predicting from it needs no second copy of the weights
    (R50: 190 MB), since :func:`cached_folded_copy` has nothing left to fold."""
    return folded_copy(model)


def cached_folded_copy(model: nn.Module) -> nn.Module:
    """:func:`folded_copy` of ``model``, made again only when the model's weights have changed since;
    a model with no BatchNorm left (e.g. from :func:`for_inference`) is returned as it is."""
    if not any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        return model
    key = _state_key(model)
    cached = _COPIES.get(model)
    if cached is not None and cached[0] == key:
        return cached[1]
    inference = folded_copy(model)
    _COPIES[model] = (key, inference)
    return inference
