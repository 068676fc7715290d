"""The training configuration: one dataclass, loadable from YAML/JSON, overridable from the command line.

Why a flat dataclass: the resolved config is written to ``config.json`` in the run directory and stored in
every checkpoint, so a run can be reproduced or resumed from that one file; the desktop app writes the same
JSON for its fine-tune child process (``danet train --config run.json``).
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from danet_core.options import MODES, PRECISIONS, PredictOptions

DATASETS = ("cityscapes", "folder", "project")
EVAL_MODES = MODES  # the inference modes, owned by danet_core.options


class ConfigError(ValueError):
    """A configuration value or file that cannot be used (names the key or the file)."""


@dataclass
class TrainConfig:
    """Everything a training run needs; defaults follow the DANet paper where it is explicit.

    Sizes are ``(height, width)``. ``max_iters`` counts optimiser steps (one batch on every process);
    when ``epochs`` is set it wins and ``max_iters = epochs * batches_per_epoch``.
    """

    # --- data ---
    dataset: str = "folder"
    data_root: str = ""
    train_split: str = "train"
    val_split: str | None = "val"
    # a built-in label-set name (cityscapes, camvid, voc) or the path of a label-set JSON file
    label_set: str = "camvid"
    # mask values that mean "void" in a folder dataset (CamVid: 11), mapped to ignore (255)
    void_ids: list[int] = field(default_factory=list)
    # folder dataset: masks of <root>/<split> are in <root>/<split><mask_dir_suffix> (CamVid: trainannot)
    mask_dir_suffix: str = "annot"
    # project dataset: deterministic held-out share of the reviewed images
    val_fraction: float = 0.2
    # use only the first N images (sorted by name); None = all
    train_limit: int | None = None
    val_limit: int | None = None
    # --- augmentation (train preset) ---
    base_scale: float = 1.0  # fixed resize of every image before augmentation (0.5 = half resolution)
    scale_range: tuple[float, float] = (0.5, 2.0)
    crop_size: tuple[int, int] = (512, 512)
    hflip: bool = True
    color_jitter: float = 0.25  # brightness/contrast/saturation strength; 0 disables
    # --- model ---
    model: str = "danet"
    model_options: dict[str, Any] = field(default_factory=lambda: {"depth": 50})
    init_checkpoint: str | None = None
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)
    # --- optimisation ---
    batch_size: int = 8
    max_iters: int = 1000
    epochs: int | None = None
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 1e-4
    poly_power: float = 0.9
    head_lr_mult: float = 1.0  # 10.0 = the paper's "head at 10x the backbone learning rate"
    warmup_iters: int = 0
    warmup_ratio: float = 0.1  # warm-up starts at lr * warmup_ratio
    loss_weights: dict[str, float] = field(
        default_factory=lambda: {"out": 1.0, "pam": 1.0, "cam": 1.0, "aux": 0.4}
    )
    class_weights: list[float] | None = None
    # with class_weights unset: per-class loss weights frequency ** -power over the training masks,
    # computed when the run starts (training.class_balance; 0 = unweighted, the measured CPU recipe 0.5)
    class_weight_power: float = 0.0
    precision: str = "fp32"
    channels_last: bool = False
    grad_clip: float | None = None
    sync_bn: bool = False
    # --- frozen backbone (fast fine-tune, danet_core.training.frozen) ---
    # backbone in eval mode (BN statistics fixed) without gradients; the head trains on cached features
    freeze_backbone: bool = False
    # fractions of the budget (max_time_s when set, else max_iters) at which layer4, then layer3, are
    # unfrozen and training goes on with image batches (BN statistics stay fixed); [] = frozen throughout
    unfreeze_at: list[float] = field(default_factory=list)
    feature_cache_mb: int = 1024  # bound of the in-memory feature cache; 0 = no cache (image batches)
    feature_cache_scales: int = 1  # random-scale factors precomputed, evenly over scale_range
    # --- evaluation ---
    val_interval: int = 500  # iterations between validations; 0 = only at the end
    eval_mode: str = "whole"
    eval_scales: tuple[float, ...] = (1.0,)
    eval_flip: bool = False
    eval_crop: tuple[int, int] | None = None
    eval_stride: tuple[int, int] | None = None
    # --- run ---
    run_dir: str | None = None  # None: runs/<model>-<dataset>-<timestamp>
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    num_workers: int = 2
    log_interval: int = 10
    ckpt_interval: int = 0  # extra "last" checkpoints every N iterations (always at val and at the end)
    max_time_s: float | None = None
    resume: str | None = None

    # ------------------------------------------------------------------ validation
    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` naming the first bad value; returns self for chaining."""
        _check(self.dataset in DATASETS, "dataset", self.dataset, f"one of {DATASETS}")
        _check(self.precision in PRECISIONS, "precision", self.precision, f"one of {PRECISIONS}")
        _check(self.eval_mode in EVAL_MODES, "eval_mode", self.eval_mode, f"one of {EVAL_MODES}")
        _check(bool(self.data_root), "data_root", self.data_root, "a dataset folder")
        _check(self.batch_size >= 1, "batch_size", self.batch_size, "an integer >= 1")
        _check(self.max_iters >= 1 or bool(self.epochs), "max_iters", self.max_iters, ">= 1")
        _check(self.epochs is None or self.epochs >= 1, "epochs", self.epochs, ">= 1 or null")
        _check(0 < self.lr <= 1.0, "lr", self.lr, "0 < lr <= 1 (SGD; the paper uses 0.01)")
        _check(
            0 <= self.class_weight_power <= 2,
            "class_weight_power",
            self.class_weight_power,
            "0 (unweighted) .. 2 (0.5 = inverse square root of the class frequency)",
        )
        _check(0.0 <= self.val_fraction < 1.0, "val_fraction", self.val_fraction, "in [0, 1)")
        _check(
            len(self.crop_size) == 2 and min(self.crop_size) >= 8, "crop_size", self.crop_size, "(h, w) >= 8"
        )
        lo, hi = self.scale_range
        _check(0 < lo <= hi, "scale_range", self.scale_range, "(min, max) with 0 < min <= max")
        _check(self.base_scale > 0, "base_scale", self.base_scale, "> 0")
        unknown = set(self.loss_weights) - {"out", "pam", "cam", "aux"}
        _check(not unknown, "loss_weights", sorted(unknown), "keys among out, pam, cam, aux")
        _check(self.grad_clip is None or self.grad_clip > 0, "grad_clip", self.grad_clip, "> 0 or null")
        _check(self.warmup_iters >= 0, "warmup_iters", self.warmup_iters, ">= 0")
        _check(self.threads is None or self.threads >= 1, "threads", self.threads, ">= 1 or null")
        _check(self.num_workers >= 0, "num_workers", self.num_workers, ">= 0")
        _check(self.log_interval >= 1, "log_interval", self.log_interval, ">= 1")
        self._validate_frozen()
        return self

    def _validate_frozen(self) -> None:
        at = list(self.unfreeze_at)
        _check(not at or self.freeze_backbone, "unfreeze_at", at, "[] unless freeze_backbone is true")
        _check(
            len(at) <= 2 and all(0 < a < 1 for a in at) and at == sorted(at),
            "unfreeze_at",
            at,
            "at most 2 increasing fractions in (0, 1) (layer4, then layer3)",
        )
        _check(self.feature_cache_mb >= 0, "feature_cache_mb", self.feature_cache_mb, ">= 0")
        _check(1 <= self.feature_cache_scales <= 8, "feature_cache_scales", self.feature_cache_scales, "1..8")

    def predict_options(self) -> PredictOptions:
        """The evaluation's inference options (validation during training, the app's comparison)."""
        return PredictOptions(
            device=self.device,
            precision=self.precision,
            mode=self.eval_mode,
            crop=(*self.eval_crop,) if self.eval_crop else None,
            stride=(*self.eval_stride,) if self.eval_stride else None,
            scales=tuple(self.eval_scales),
            flip=self.eval_flip,
        )

    # ------------------------------------------------------------------ (de)serialisation
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able dict (tuples become lists)."""
        return json.loads(json.dumps(dataclasses.asdict(self)))

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str = "config") -> TrainConfig:
        """Build from a dict, refusing unknown keys (a typo must not be silently ignored)."""
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = [k for k in data if k not in names]
        if unknown:
            key = unknown[0]
            hint = difflib.get_close_matches(key, names, n=1)
            extra = f"; did you mean {hint[0]!r}?" if hint else ""
            raise ConfigError(f"{source}: unknown key {key!r}{extra}")
        cfg = cls()
        for key, value in data.items():
            setattr(cfg, key, _coerce(names[key], value, source))
        return cfg

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> TrainConfig:
        """Read a ``.yaml``/``.yml``/``.json`` file (a mapping of TrainConfig keys)."""
        return cls.from_dict(read_config_file(path), source=str(path))

    def with_overrides(
        self, overrides: dict[str, Any], *, nulls: Sequence[str] = (), source: str = "command line"
    ) -> TrainConfig:
        """A copy with ``overrides`` applied (``None`` values are skipped: the option was not given) and
        the keys in ``nulls`` set to None explicitly (``--set val_split=null``)."""
        merged = self.to_dict()
        for key in nulls:
            merged[key] = None
        for key, value in overrides.items():
            if value is None:
                continue
            if key == "model_options" and isinstance(value, dict):
                merged["model_options"] = {**merged.get("model_options", {}), **value}
            else:
                merged[key] = value
        return TrainConfig.from_dict(merged, source=source)

    def save_json(self, path: str | os.PathLike[str]) -> None:
        from danet_core.files import atomic_write_bytes

        atomic_write_bytes(path, (json.dumps(self.to_dict(), indent=2) + "\n").encode())


def read_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read config file ({exc.strerror or exc})") from exc
    try:
        data = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"{p}: not valid {'JSON' if p.suffix.lower() == '.json' else 'YAML'} ({exc})"
        ) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping of config keys, got {type(data).__name__}")
    return data


def parse_set_option(text: str) -> tuple[str, Any]:
    """``KEY=VALUE`` from ``--set``; VALUE is parsed as YAML (numbers, lists, null, true)."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE")
    key, raw = text.split("=", 1)
    try:
        value = yaml.safe_load(raw) if raw else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text!r}: cannot parse the value ({exc})") from exc
    return key.strip(), value


def _check(ok: bool, key: str, value: Any, expected: str) -> None:
    if not ok:
        raise ConfigError(f"config value {key}={value!r}: expected {expected}")


def _coerce(f: dataclasses.Field, value: Any, source: str) -> Any:
    """Turn a JSON/YAML/--set value into the field's type, or refuse it naming the key.

    Unambiguous spellings are accepted (``lr: 1e-3``, which PyYAML reads as the string "1e-3";
    ``max_iters: 100.0``; a single number for a size means a square); anything else is a
    :class:`ConfigError` "config value KEY=VALUE: expected ...", never a TypeError later.
    """
    if value is None:
        return None
    typ = str(f.type).removesuffix(" | None")
    try:
        return _coerce_to(typ, value)
    except ValueError as exc:
        raise ConfigError(f"{source}: config value {f.name}={value!r}: expected {exc}") from None


def _coerce_to(typ: str, value: Any) -> Any:
    if typ.startswith("tuple[") or typ.startswith("list["):
        inner = [t.strip() for t in typ[typ.index("[") + 1 : -1].split(",")]
        elem = inner[0]
        if isinstance(value, int | float | str) and not isinstance(value, bool) and typ.startswith("tuple"):
            n = 1 if "..." in inner else len(inner)
            value = [value] * n  # crop_size: 512 means a square
        if not isinstance(value, list | tuple):
            raise ValueError(f"a list of {elem} values")
        items = [_coerce_to(elem, v) for v in value]
        if typ.startswith("tuple") and "..." not in inner and len(items) != len(inner):
            raise ValueError(f"{len(inner)} {elem} values")
        return tuple(items) if typ.startswith("tuple") else items
    if typ.startswith("dict["):
        if not isinstance(value, dict):
            raise ValueError("a mapping {key: value}")
        return value
    return _coerce_scalar(typ, value)


def _coerce_scalar(typ: str, value: Any) -> Any:
    if typ == "bool":
        if not isinstance(value, bool):
            raise ValueError("true or false")
        return value
    if typ in ("int", "float"):
        number = _number(value)
        if number is None:
            raise ValueError("an integer" if typ == "int" else "a number")
        if typ == "int":
            if number != int(number):
                raise ValueError("an integer")
            return int(number)
        return float(number)
    if typ == "str":
        if not isinstance(value, str):
            raise ValueError("text")
        return value
    return value  # Any


def _number(value: Any) -> float | None:
    """A finite number from an int, a float or a numeric string ("1e-3"); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and math.isfinite(value):
        return value
    return None
