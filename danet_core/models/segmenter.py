"""DANet and the dilated-FCN baseline, their keyword-only builders and the ``get_model`` registry.

Both models take a normalised float tensor B x 3 x H x W and return a dict of logits, all bilinearly
upsampled to H x W (torchvision's segmentation convention): DANet ``{"out", "pam", "cam"[, "aux"]}``,
FCN ``{"out"[, "aux"]}``. ``model.config`` is the :class:`ModelConfig` that rebuilds the model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from danet_core.models.attention import PAM
from danet_core.models.backbone import BackboneWeightsError, DilatedResNet, load_imagenet_weights
from danet_core.models.config import ModelConfig, ModelMeta
from danet_core.models.heads import DANetHead, FCNHead

log = logging.getLogger(__name__)


class Segmenter(nn.Module):
    """Backbone + main head (+ optional FCN auxiliary head on layer3); shared by DANet and FCN."""

    # Attached by danet_core.checkpoints.load_model (and by training's make_predictor); a freshly built
    # model has none, hence ``getattr(model, "meta", None)`` where that can happen.
    meta: ModelMeta
    # How a freshly built backbone was initialised: "random" or "imagenet:<torchvision weights name>";
    # set by get_model (a model built by build_model for a checkpoint's weights has "random" until loaded).
    backbone_init: str = "random"

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.backbone = DilatedResNet(
            config.depth,
            stem=config.stem,
            multi_grid=config.multi_grid,
            basic_conv2_dilation=config.basic_conv2_dilation,
        )
        c3, c4 = self.backbone.channels
        if config.name == "danet":
            self.head: nn.Module = DANetHead(
                c4, config.num_classes, pam_impl=config.pam_impl, dropout=config.dropout
            )
        else:
            self.head = FCNHead(c4, c4 // 4, config.num_classes, dropout=config.dropout)
        self.aux_head = (
            FCNHead(c3, config.aux_channels, config.num_classes, dropout=config.dropout)
            if config.aux
            else None
        )

    def set_pam_impl(self, impl: str) -> None:
        """Switch the PAM between "efficient" and "naive" (same weights, same result)."""
        self.config = replace(self.config, pam_impl=impl)
        for m in self.modules():
            if isinstance(m, PAM):
                m.impl = impl

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        size = x.shape[-2:]
        c3, c4 = self.backbone(x)
        head_out = self.head(c4)
        outputs = head_out if isinstance(head_out, dict) else {"out": head_out}
        if self.aux_head is not None:
            outputs["aux"] = self.aux_head(c3)
        align = self.config.align_corners
        return {
            k: F.interpolate(v, size=size, mode="bilinear", align_corners=align) for k, v in outputs.items()
        }

    def forward_out(self, x: torch.Tensor) -> torch.Tensor:
        """``forward(x)["out"]`` without the training-only side outputs: B x 3 x H x W -> B x K x H x W.

        Why: inference needs the fused logits alone; the PAM/CAM (and aux) classifiers and their
        upsampling to input size would add two or three K x H x W tensors (2 x 160 MB at 1024 x 2048,
        19 classes) and their time to every prediction.
        """
        c4 = self.backbone(x)[1]
        forward_out = getattr(self.head, "forward_out", None)
        logits = forward_out(c4) if forward_out is not None else self.head(c4)
        return F.interpolate(
            logits, size=x.shape[-2:], mode="bilinear", align_corners=self.config.align_corners
        )


def build_model(config: ModelConfig | dict[str, Any]) -> Segmenter:
    """Rebuild a (randomly initialised) model from its config; checkpoints then load the weights."""
    if isinstance(config, dict):
        config = ModelConfig.from_dict(config)
    return Segmenter(config)


def _build(
    name: str,
    *,
    depth: int,
    num_classes: int,
    pretrained_backbone: bool | str,
    allow_random_fallback: bool,
    **options: Any,
) -> Segmenter:
    model = build_model(ModelConfig(name=name, depth=depth, num_classes=num_classes, **options))
    model.backbone_init = "random"
    if pretrained_backbone:
        auto = pretrained_backbone == "auto"
        weights = "IMAGENET1K_V1" if auto or pretrained_backbone is True else str(pretrained_backbone)
        try:
            load_imagenet_weights(model.backbone, depth, weights)
        except BackboneWeightsError as exc:
            if not (allow_random_fallback or auto):
                raise
            log.warning(
                "%s. The backbone starts from RANDOM weights instead of ImageNet's "
                "(expect slower training and lower accuracy)",
                exc,
            )
        else:
            model.backbone_init = f"imagenet:{weights}"
            log.info("backbone: torchvision ImageNet weights %s for ResNet-%d", weights, depth)
    return model


def danet_resnet(
    *,
    depth: int = 50,
    num_classes: int = 19,
    stem: str = "torchvision",
    multi_grid: Sequence[int] | None = None,
    aux: bool = False,
    align_corners: bool = True,
    pam_impl: str = "efficient",
    pretrained_backbone: bool | str = False,
    allow_random_fallback: bool = False,
    **options: Any,
) -> Segmenter:
    """DANet on a dilated ResNet-``depth``.

    ``pretrained_backbone``: False, True (torchvision IMAGENET1K_V1), a weight-enum name such as
    "IMAGENET1K_V2", or "auto" (IMAGENET1K_V1 from the torch cache or downloaded, else random weights with
    a plain warning; what training from scratch uses). When the weights cannot be obtained a
    :class:`BackboneWeightsError` says what to do, unless ``allow_random_fallback`` or "auto" (then a
    warning is logged and the backbone stays random; ``model.backbone_init`` says which happened).
    Remaining ``options`` are :class:`ModelConfig` fields (``aux_channels``, ``dropout``).
    """
    return _build(
        "danet",
        depth=depth,
        num_classes=num_classes,
        stem=stem,
        multi_grid=multi_grid,
        aux=aux,
        align_corners=align_corners,
        pam_impl=pam_impl,
        pretrained_backbone=pretrained_backbone,
        allow_random_fallback=allow_random_fallback,
        **options,
    )


def fcn_resnet(
    *,
    depth: int = 50,
    num_classes: int = 19,
    stem: str = "torchvision",
    multi_grid: Sequence[int] | None = None,
    aux: bool = False,
    align_corners: bool = True,
    pretrained_backbone: bool | str = False,
    allow_random_fallback: bool = False,
    **options: Any,
) -> Segmenter:
    """The dilated-FCN baseline: same backbone as DANet, head 3x3 conv-BN-ReLU to Cin/4, dropout, 1x1."""
    options.pop("pam_impl", None)  # accepted so callers can switch model names with the same kwargs
    return _build(
        "fcn",
        depth=depth,
        num_classes=num_classes,
        stem=stem,
        multi_grid=multi_grid,
        aux=aux,
        align_corners=align_corners,
        pretrained_backbone=pretrained_backbone,
        allow_random_fallback=allow_random_fallback,
        **options,
    )


MODELS: dict[str, Callable[..., Segmenter]] = {"danet": danet_resnet, "fcn": fcn_resnet}


def get_model(name: str, **cfg: Any) -> Segmenter:
    """``get_model("danet" | "fcn", depth=..., num_classes=..., ...)``: see :func:`danet_resnet`."""
    try:
        builder = MODELS[name]
    except KeyError as exc:
        raise ValueError(f"model {name!r}; expected one of {sorted(MODELS)}") from exc
    return builder(**cfg)
