"""Dilated torchvision ResNet (output stride 8) with three stems and optional multi-grid.

Why build on torchvision's ResNet: its block and parameter names (``layerN.i.convK``, ``downsample.0/1``)
are the ones the official DANet code and mmsegmentation also use, so importing their checkpoints is a
key rename of the stem only, and torchvision's ImageNet weight enums load directly.

Dilation follows torchvision's ``replace_stride_with_dilation`` (and mmsegmentation's
``contract_dilation``): layer3 runs at stride 1 with dilation 2, layer4 with dilation 4, and the first block
of each dilated stage uses half the dilation. ``multi_grid`` replaces layer4's per-block dilations by the
given absolute values (block i gets ``multi_grid[i % len]``), as the released DANet101 does with 4, 8, 16.
For BasicBlock (ResNet-18/34) the second 3x3 conv's dilation is ``basic_conv2_dilation``: "block" (the
block's own, as the first conv; this project's default), "none" (mmsegmentation: undilated) or "stage"
(official DANet code: the stage's dilation, 2 or 4, in every block), so imports of either are exact.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, cast

import torch
from torch import nn
from torchvision.models import resnet as tv_resnet

log = logging.getLogger(__name__)

# (block class, blocks per stage, weight enum): torchvision's BasicBlock / Bottleneck, which ship no types
_SPECS: dict[int, tuple[type[Any], list[int], str]] = {
    18: (tv_resnet.BasicBlock, [2, 2, 2, 2], "ResNet18_Weights"),
    34: (tv_resnet.BasicBlock, [3, 4, 6, 3], "ResNet34_Weights"),
    50: (tv_resnet.Bottleneck, [3, 4, 6, 3], "ResNet50_Weights"),
    101: (tv_resnet.Bottleneck, [3, 4, 23, 3], "ResNet101_Weights"),
}
DOWNLOAD_TIMEOUT_S = 15.0
# Set (to anything) to never download backbone weights: only the torch hub cache is used (air-gapped
# machines; the test suite sets it so that no test reaches the internet).
OFFLINE_ENV = "DANET_OFFLINE"


class BackboneWeightsError(OSError):
    """ImageNet backbone weights were asked for but could not be obtained (offline, blocked, corrupt)."""


def _conv_bn_relu(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


def _set_dilation(conv: nn.Conv2d, dilation: int) -> None:
    conv.dilation = (dilation, dilation)
    conv.padding = (dilation, dilation)


OUTPUT_STRIDE = 8  # feature cell i is centred on input pixel 8 i (stride-2 3x3 convs, padding 1)


def _dilate_stage(
    stage: nn.Sequential, dilations: Sequence[int], stage_dilation: int, basic_conv2: str = "block"
) -> None:
    """Make a stride-2 stage run at stride 1 with per-block dilations (in place, weights untouched)."""
    conv2_of = {"block": None, "none": 1, "stage": stage_dilation}[basic_conv2]
    for i, block in enumerate(stage):
        d = dilations[i % len(dilations)]
        # torchvision's blocks are untyped (nn.Module attributes read as Tensor | Module): their conv1 /
        # conv2 are Conv2d and downsample is None or Sequential(Conv2d, BatchNorm2d)
        if isinstance(block, tv_resnet.Bottleneck):
            conv2 = cast(nn.Conv2d, block.conv2)
            conv2.stride = (1, 1)
            _set_dilation(conv2, d)
        else:
            conv1 = cast(nn.Conv2d, block.conv1)
            conv1.stride = (1, 1)
            _set_dilation(conv1, d)
            _set_dilation(cast(nn.Conv2d, block.conv2), d if conv2_of is None else conv2_of)
        if block.downsample is not None:
            downsample = cast(nn.Sequential, block.downsample)
            cast(nn.Conv2d, downsample[0]).stride = (1, 1)


class DilatedResNet(nn.Module):
    """ResNet feature extractor at output stride 8.

    forward(x: B x 3 x H x W) -> (c3: B x C3 x H/8 x W/8, c4: B x C4 x H/8 x W/8); C3/C4 = 1024/2048 for
    ResNet-50/101 and 256/512 for ResNet-18/34 (``channels`` gives them).
    """

    def __init__(
        self,
        depth: int,
        *,
        stem: str = "torchvision",
        multi_grid: Sequence[int] | None = None,
        basic_conv2_dilation: str = "block",
    ) -> None:
        super().__init__()
        block, layers, _ = _SPECS[depth]
        net = tv_resnet.ResNet(block, layers)
        self.stem_type = stem
        if stem == "torchvision":
            self.conv1, self.bn1 = net.conv1, net.bn1
        elif stem == "v1c":
            self.stem = nn.Sequential(
                *_conv_bn_relu(3, 32, 2), *_conv_bn_relu(32, 32), *_conv_bn_relu(32, 64)
            )
        elif stem == "deep":
            mods = _conv_bn_relu(3, 64, 2) + _conv_bn_relu(64, 64) + [nn.Conv2d(64, 128, 3, 1, 1, bias=False)]
            self.conv1, self.bn1 = nn.Sequential(*mods), nn.BatchNorm2d(128)
            net.inplanes = 128  # layer1 takes the deep stem's 128 channels
            net.layer1 = net._make_layer(block, 64, layers[0])
        else:
            raise ValueError(f"stem {stem!r}; expected 'torchvision', 'v1c' or 'deep'")
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        conv2 = basic_conv2_dilation
        _dilate_stage(self.layer3, [1] + [2] * (layers[2] - 1), 2, conv2)
        _dilate_stage(self.layer4, list(multi_grid) if multi_grid else [2] + [4] * (layers[3] - 1), 4, conv2)
        if stem != "torchvision":
            self._init_new_modules(("stem", "conv1", "bn1", "layer1") if stem == "deep" else ("stem",))
        exp: int = block.expansion
        self.channels = (256 * exp, 512 * exp)

    def _init_new_modules(self, prefixes: tuple[str, ...]) -> None:
        # torchvision initialises what its constructor built; the deep stems are ours, so same init.
        for name, m in self.named_modules():
            if name.startswith(prefixes):
                if isinstance(m, nn.Conv2d):
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                elif isinstance(m, nn.BatchNorm2d):
                    nn.init.ones_(m.weight)
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stem_type == "v1c":
            x = self.stem(x)
        else:
            x = self.relu(self.bn1(self.conv1(x)))
        x = self.maxpool(x)
        x = self.layer2(self.layer1(x))
        c3 = self.layer3(x)
        return c3, self.layer4(c3)


@contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(old)


def imagenet_state_dict(depth: int, weights: str = "IMAGENET1K_V1") -> dict[str, torch.Tensor]:
    """torchvision's ImageNet weights for ResNet-``depth`` (from the torch hub cache or downloaded).

    Never hangs: the download runs under a short socket timeout. Raises :class:`BackboneWeightsError`
    naming the URL and the cache file to place by hand when it cannot be obtained.
    """
    enum = getattr(tv_resnet, _SPECS[depth][2])
    try:
        entry = enum[weights]
    except KeyError as exc:
        raise ValueError(f"backbone weights {weights!r}; expected one of {[w.name for w in enum]}") from exc
    hub_dir = torch.hub.get_dir()
    cached = os.path.join(hub_dir, "checkpoints", os.path.basename(entry.url))
    if os.environ.get(OFFLINE_ENV) and not os.path.isfile(cached):
        raise BackboneWeightsError(
            f"ImageNet weights for ResNet-{depth} are not in the torch cache ({cached}) and {OFFLINE_ENV} "
            f"forbids downloading them from {entry.url}; place that file there, or build the model with "
            "pretrained_backbone=False"
        )
    try:
        with _socket_timeout(DOWNLOAD_TIMEOUT_S):
            return entry.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # urllib, socket, hash mismatch, truncated zip: all mean "no weights"
        raise BackboneWeightsError(
            f"cannot obtain ImageNet weights for ResNet-{depth} ({entry}) from {entry.url}: {exc}. "
            f"Connect to the internet, or download that file into {hub_dir}/checkpoints/, "
            "or build the model with pretrained_backbone=False"
        ) from exc


def load_imagenet_weights(backbone: DilatedResNet, depth: int, weights: str = "IMAGENET1K_V1") -> None:
    """Copy torchvision ImageNet weights into ``backbone``; deep-stem layers that do not match stay random."""
    state = imagenet_state_dict(depth, weights)
    own = backbone.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    skipped = sorted(k for k in own if k not in usable and not k.endswith("num_batches_tracked"))
    backbone.load_state_dict(usable, strict=False)
    if skipped:
        log.info(
            "ImageNet weights: %d tensors randomly initialised (stem %s): %s",
            len(skipped),
            backbone.stem_type,
            ", ".join(skipped[:6]) + (" ..." if len(skipped) > 6 else ""),
        )
