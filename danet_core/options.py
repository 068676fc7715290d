"""Inference options and device names: one torch-free owner for what the CLI, training and the app share.

Why here and not in :mod:`danet_core.inference`: the app reads these names at start-up (settings dialog,
fine-tune plan) and must not import torch on the GUI thread for them; the training config validates
against them; the CLI offers them as choices. Importing this module never imports torch; only
:func:`resolve_device` does, when it has to look for a GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

PRECISIONS = ("fp32", "bf16", "fp16")
MODES = ("whole", "slide", "multiscale")
# How passes are resized, padded, windowed and fused (danet_core.protocols): "ours" (this project's
# defaults), "official" (the official DANet code's MultiEvalModule), "mmseg" (mmsegmentation 1.x).
PROTOCOLS = ("ours", "official", "mmseg")
DEVICE_AUTO = "auto"
DEVICE_HELP = "auto (CUDA when available, else CPU) | cpu | cuda | cuda:1"
# Scales of the multi-scale (+flip) evaluation when none are given: this project's choice, not a
# reference one. The official DANet code evaluates Cityscapes single-scale ([1.0]) unless --multi-scales
# is given (its MultiEvalModule then uses 0.5..1.75); mmseg's ms+flip figures use 0.5..1.75 too.
DEFAULT_SCALES = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0)
DEFAULT_CROP = (512, 1024)


def check_choice(kind: str, value: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``, else a ValueError naming the value and the choices."""
    if value not in choices:
        raise ValueError(f"{kind} {value!r}; expected one of {', '.join(choices)}")
    return value


def resolve_device(device: object = DEVICE_AUTO) -> str:
    """ "auto" -> "cuda" when torch sees a CUDA device, else "cpu"; any other name is returned checked.

    The only place that turns "auto" into a device, for inference, training, evaluation and the app.
    Raises ValueError for a CUDA device on a machine without one.
    """
    import torch

    name = str(device)
    if name == DEVICE_AUTO:
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        dev = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"device {name!r}; expected {DEVICE_HELP}") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r}: CUDA is not available on this machine; use 'cpu' or 'auto'")
    return name


def _pair(value: int | Sequence[int] | None, what: str) -> tuple[int, int] | None:
    if value is None:
        return None
    if isinstance(value, int):
        value = (value, value)
    pair = tuple(int(v) for v in value)
    if len(pair) != 2 or min(pair) < 1:
        raise ValueError(f"{what} {value!r}; expected (h, w) with positive sides")
    return (pair[0], pair[1])


@dataclass(frozen=True)
class PredictOptions:
    """How a :class:`danet_core.inference.Predictor` runs a model over one image.

    ``mode``: "whole" (one pass), "slide" (``crop`` windows every ``stride``; stride defaults to 2/3 of
    the crop) or "multiscale" (each of ``scales``, optionally ``flip``-averaged, each pass sliding when
    larger than ``crop``). ``precision``: autocast dtype ("fp32" = no autocast). Sizes are (h, w); an int
    means a square. Validated on construction.

    ``protocol`` (see :mod:`danet_core.protocols`): "ours", "official" (scales relative to ``base_size``,
    the long side at scale 1, default the image's; square crop) or "mmseg" (``resize_to`` = mmseg's test
    ``Resize(scale=(long, short), keep_ratio=True)``, e.g. (2048, 1024); default stride 513 for a 769
    crop as mmseg's configs). ``base_size`` / ``resize_to`` are ignored by the other protocols.
    """

    device: str = DEVICE_AUTO
    precision: str = "fp32"
    mode: str = "whole"
    crop: tuple[int, int] | None = DEFAULT_CROP
    stride: tuple[int, int] | None = None
    scales: tuple[float, ...] = DEFAULT_SCALES
    flip: bool = False
    protocol: str = "ours"
    base_size: int | None = None
    resize_to: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        check_choice("precision", self.precision, PRECISIONS)
        check_choice("inference mode", self.mode, MODES)
        check_choice("evaluation protocol", self.protocol, PROTOCOLS)
        crop = _pair(self.crop, "crop")
        if self.mode == "slide" and crop is None:
            raise ValueError("mode 'slide' needs a crop size (h, w)")
        if self.protocol == "official" and crop is not None and crop[0] != crop[1]:
            raise ValueError(
                f"crop {crop}: the official protocol slides square crops (crop_size x crop_size)"
            )
        if self.base_size is not None and int(self.base_size) < 1:
            raise ValueError(f"base_size {self.base_size!r}; expected a positive long-side length")
        stride = _pair(self.stride, "stride") or (
            (default_stride(crop[0], self.protocol), default_stride(crop[1], self.protocol)) if crop else None
        )
        object.__setattr__(self, "resize_to", _pair(self.resize_to, "resize_to"))
        scales = tuple(float(s) for s in self.scales)
        if not scales or min(scales) <= 0:
            raise ValueError(f"scales {self.scales!r}; expected positive factors such as (0.75, 1.0, 1.25)")
        object.__setattr__(self, "device", str(self.device))
        object.__setattr__(self, "crop", crop)
        object.__setattr__(self, "stride", stride)
        object.__setattr__(self, "scales", scales)
        object.__setattr__(self, "flip", bool(self.flip))

    def replace(self, **changes: Any) -> PredictOptions:
        """A copy with ``changes`` (unknown names raise TypeError, bad values ValueError).

        A stride that was derived from the crop (not given) is derived again for a new crop or protocol.
        """
        if "stride" not in changes and ("crop" in changes or "protocol" in changes) and self.crop:
            derived = tuple(default_stride(side, self.protocol) for side in self.crop)
            if self.stride == derived:
                changes["stride"] = None
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PredictOptions:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown inference options {unknown}; expected some of {sorted(known)}")
        return cls(**dict(data))


def default_stride(side: int, protocol: str = "ours") -> int:
    """2/3 of a crop side, as the official code and mmseg's 512x1024 configs (341, 682); mmseg's
    769x769 configs use 513 (``test_cfg=dict(mode='slide', crop_size=(769, 769), stride=(513, 513))``)."""
    if protocol == "mmseg" and side == 769:
        return 513
    return max(1, side * 2 // 3)


def add_predict_arguments(parser: argparse.ArgumentParser, *, default_mode: str = "whole") -> None:
    """The inference options as command-line flags (``danet predict``, ``danet eval``)."""
    parser.add_argument("--mode", choices=MODES, default=default_mode)
    parser.add_argument("--crop", type=int_list, default=None, help="window H,W for slide (default 512,1024)")
    parser.add_argument("--stride", type=int_list, default=None, help="window step H,W (default 2/3 crop)")
    parser.add_argument(
        "--scales", type=float_list, default=None, help="multiscale factors (default 0.75..2.0, ours)"
    )
    parser.add_argument("--flip", action="store_true", help="also average horizontally flipped passes")
    parser.add_argument(
        "--eval-protocol",
        choices=PROTOCOLS,
        default="ours",
        help="resize/pad/window/fuse as this project, the official DANet code or mmsegmentation",
    )
    parser.add_argument("--base-size", type=int, default=None, help="official: long side at scale 1")
    parser.add_argument(
        "--resize-to", type=int_list, default=None, help="mmseg: test Resize scale LONG,SHORT (keep ratio)"
    )
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--device", default=DEVICE_AUTO, help=DEVICE_HELP)


def predict_options_from_args(args: argparse.Namespace) -> PredictOptions:
    """:class:`PredictOptions` from the flags of :func:`add_predict_arguments`."""
    return PredictOptions(
        device=args.device,
        precision=args.precision,
        mode=args.mode,
        crop=tuple(args.crop) if args.crop else (DEFAULT_CROP if args.mode == "slide" else None),
        stride=tuple(args.stride) if args.stride else None,
        scales=tuple(args.scales) if args.scales else DEFAULT_SCALES,
        flip=args.flip,
        protocol=args.eval_protocol,
        base_size=args.base_size,
        resize_to=tuple(args.resize_to) if args.resize_to else None,
    )


def int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected integers such as 512,1024") from exc


def float_list(text: str) -> list[float]:
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: expected numbers such as 0.75,1,1.25") from exc
