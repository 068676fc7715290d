"""The architecture description stored in every native checkpoint.

Why a dataclass: a checkpoint must rebuild its model without the code that trained it, so everything
the weights cannot reveal (stem, multi-grid, align_corners, ...) is written next to them as plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

MODEL_NAMES = ("danet", "fcn")
DEPTHS = (18, 34, 50, 101)
# "torchvision": 7x7/2 conv + BN + ReLU (torchvision, official DANet release);
# "v1c": mmsegmentation ResNetV1c deep stem 3->32/2, 32->32, 32->64 (BN+ReLU after each);
# "deep": renewed official DANet code: 3->64/2, 64->64, 64->128, then bn1(128)+ReLU.
STEMS = ("torchvision", "v1c", "deep")
PAM_IMPLS = ("efficient", "naive")
# Dilation of the second 3x3 conv of a dilated BasicBlock (ResNet-18/34; Bottleneck has one 3x3 conv):
# "block": the block's own dilation, like its first conv (this project's models);
# "none": undilated (mmsegmentation's BasicBlock: conv2 is a plain 3x3, padding 1);
# "stage": the stage's dilation, 2 in layer3 and 4 in layer4, also in the first block and under
#          multi-grid (the official code's encoding/dilated/resnet.py: conv2 uses previous_dilation).
BASIC_CONV2_DILATIONS = ("block", "none", "stage")


@dataclass
class ModelConfig:
    """Everything needed to rebuild a model with :func:`danet_core.models.build_model`.

    ``multi_grid``: absolute dilations of layer4's blocks (e.g. ``(4, 8, 16)`` as in the released DANet101),
    or None for the default (first block 2, the others 4). ``aux``: FCN auxiliary head on layer3 (as in
    mmsegmentation), ``aux_channels`` its hidden width. ``pam_impl``: "efficient" (never materialises the
    N x N attention) or "naive" (the paper's formulation, kept as the test oracle).
    ``basic_conv2_dilation``: see :data:`BASIC_CONV2_DILATIONS` (ResNet-18/34 only; set by imports so that
    mmseg and official BasicBlock backbones compute exactly what their code computes).
    """

    name: str = "danet"
    depth: int = 50
    num_classes: int = 19
    stem: str = "torchvision"
    multi_grid: tuple[int, ...] | None = None
    aux: bool = False
    aux_channels: int = 256
    align_corners: bool = True
    pam_impl: str = "efficient"
    dropout: float = 0.1
    basic_conv2_dilation: str = "block"
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.multi_grid is not None:
            self.multi_grid = tuple(int(d) for d in self.multi_grid)
        self.validate()

    def validate(self) -> None:
        """Raise ValueError naming the bad field and the accepted values."""
        if self.name not in MODEL_NAMES:
            raise ValueError(f"model name {self.name!r}; expected one of {MODEL_NAMES}")
        if self.depth not in DEPTHS:
            raise ValueError(f"backbone depth {self.depth!r}; expected one of {DEPTHS}")
        if self.stem not in STEMS:
            raise ValueError(f"stem {self.stem!r}; expected one of {STEMS}")
        if self.basic_conv2_dilation not in BASIC_CONV2_DILATIONS:
            raise ValueError(
                f"basic_conv2_dilation {self.basic_conv2_dilation!r}; expected one of {BASIC_CONV2_DILATIONS}"
            )
        if self.pam_impl not in PAM_IMPLS:
            raise ValueError(f"pam_impl {self.pam_impl!r}; expected one of {PAM_IMPLS}")
        if not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise ValueError(f"num_classes {self.num_classes!r}; expected a positive integer")
        if self.multi_grid is not None and (not self.multi_grid or min(self.multi_grid) < 1):
            raise ValueError(f"multi_grid {self.multi_grid!r}; expected positive dilations, e.g. (4, 8, 16)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout {self.dropout!r}; expected 0 <= p < 1")

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["multi_grid"] = list(self.multi_grid) if self.multi_grid is not None else None
        return d

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error (a checkpoint from a newer version)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown model config keys {unknown}; expected a subset of {sorted(known)}")
        return cls(**data)


@dataclass
class ModelMeta:
    """What a loaded model carries as ``model.meta``: how to rebuild it, name its outputs, feed it.

    Attached by :func:`danet_core.checkpoints.load_model` (and imported from there by callers).
    """

    config: ModelConfig
    classes: list[dict[str, Any]]
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str = "native"
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
