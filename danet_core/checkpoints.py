"""Native checkpoints (self-describing, atomic, weights_only) and import of official / mmseg DANet files.

A native checkpoint is a ``torch.save`` dict::

    {"format": "danet-annotator-checkpoint", "format_version": 1, "config": ModelConfig.to_dict(),
     "classes": [{"name", "color": [r, g, b], "train_id"}, ...]  # model output order
     "mean": [3 floats], "std": [3 floats],  # normalisation of RGB scaled to 0..1
     "state_dict": {...}, "train_state": {...} | None, "extra": {...}, "created": ISO time}

It is always read with ``torch.load(weights_only=True)``: a checkpoint can never run code. numpy arrays
and scalars (found in mmseg checkpoints' metadata) are allowed as data.
"""

from __future__ import annotations

import datetime as _dt
import io
import logging
import os
import pickle
import re
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from danet_core import zoo
from danet_core.files import atomic_write_bytes
from danet_core.models import ModelConfig, Segmenter, build_model, convert

# Defined next to ModelConfig so that Segmenter can declare ``meta: ModelMeta`` (the models layer cannot
# import this module); re-exported here, where it has always been imported from.
from danet_core.models.config import ModelMeta

log = logging.getLogger(__name__)

FORMAT = "danet-annotator-checkpoint"
FORMAT_VERSION = 1
SOURCES = ("auto", "native", "official", "mmseg")


class CheckpointError(ValueError):
    """A checkpoint file that is missing, truncated, unsafe, foreign or does not fit the architecture."""


def _check_classes(classes: list[dict[str, Any]], num_classes: int) -> list[dict[str, Any]]:
    if len(classes) != num_classes:
        raise ValueError(f"{len(classes)} classes given for a model with {num_classes} outputs")
    out = []
    for i, c in enumerate(classes):
        try:
            color = [int(v) for v in c["color"]]
            item = {"name": str(c["name"]), "color": color, "train_id": int(c.get("train_id", i))}
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"class {i} {c!r}: expected {{'name', 'color': [r, g, b], 'train_id'}}") from exc
        if len(color) != 3 or not all(0 <= v <= 255 for v in color):
            raise ValueError(f"class {i} ({item['name']}) colour {color}; expected three values 0..255")
        out.append(item)
    return out


def _check_norm(values: Any, what: str) -> list[float]:
    vals = [float(v) for v in values]
    if len(vals) != 3:
        raise ValueError(f"{what} {vals}; expected 3 values (R, G, B) for RGB scaled to 0..1")
    if what == "std" and min(vals) <= 0:
        raise ValueError(f"std {vals}; expected positive values")
    return vals


def _norm_triple(values: Any, what: str) -> tuple[float, float, float]:
    """:func:`_check_norm` as the (R, G, B) tuple that :class:`ModelMeta` holds."""
    r, g, b = _check_norm(values, what)  # exactly three: _check_norm refuses any other count
    return r, g, b


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Segmenter,
    *,
    classes: list[dict[str, Any]],
    mean: Any,
    std: Any,
    train_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Atomically write a native checkpoint of ``model`` (which must have ``model.config``).

    ``mean``/``std``: normalisation of RGB in 0..1 (ImageNet: 0.485, 0.456, 0.406 / 0.229, 0.224, 0.225).
    ``train_state``: optimizer/scheduler state dicts, epoch, ... (tensors, numbers, strings, lists, dicts).
    """
    config = model.config
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "classes": _check_classes(list(classes), config.num_classes),
        "mean": _check_norm(mean, "mean"),
        "std": _check_norm(std, "std"),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "train_state": train_state,
        "extra": dict(extra or {}),
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | os.PathLike[str], *, map_location: Any = "cpu") -> dict[str, Any]:
    """Read any checkpoint file safely (weights_only); raise CheckpointError naming the file otherwise."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: no such checkpoint file")
    try:
        with torch.serialization.safe_globals(_numpy_globals()):
            data = torch.load(p, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise _unpickling_error(p, exc) from exc
    except (
        RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError, KeyError, IndexError, TypeError,
        AttributeError, struct.error, MemoryError,
    ) as exc:  # fmt: skip
        raise CheckpointError(
            f"{p}: cannot read as a PyTorch checkpoint ({type(exc).__name__}: {str(exc)[:160]}); the file "
            "is truncated or not a checkpoint (expected a .pt/.pth file written by torch.save)"
        ) from exc
    if not isinstance(data, dict):
        raise CheckpointError(f"{p}: holds a {type(data).__name__}; expected a dict checkpoint")
    return data


# How torch's weights-only unpickler names a refused class or function (two wordings across versions).
_GLOBAL_RE = re.compile(r"(?:Unsupported global: GLOBAL|unsupported GLOBAL) ([\w.]+)")


def _unpickling_error(path: Path, exc: pickle.UnpicklingError) -> CheckpointError:
    """One message: code-carrying pickles are refused by name; other pickle errors mean "not a
    checkpoint". PyTorch's own text (which advises ``weights_only=False``, the one thing never to do
    with a file from elsewhere) is not repeated."""
    text = str(exc)
    found = _GLOBAL_RE.search(text)
    if found:
        return CheckpointError(
            f"{path}: refused to load: the file contains Python objects that could run code "
            f"({found.group(1)}); expected a checkpoint of tensors and plain data (re-save it with "
            "torch.save(state_dict))"
        )
    detail = [ln.strip() for ln in text.splitlines() if ln.strip() and "weights_only" not in ln]
    first = (detail[-1] if detail else type(exc).__name__)[:80]  # torch's own reason, not its advice
    return CheckpointError(
        f"{path}: not a PyTorch checkpoint (the pickle stream is invalid: {first}); expected a .pt/.pth "
        "file written by torch.save"
    )


def _numpy_globals() -> list[Any]:
    items: list[Any] = [np.ndarray, np.dtype]
    for mod_name in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            mod = __import__(mod_name, fromlist=["_reconstruct", "scalar"])
            items += [mod._reconstruct, mod.scalar]
            break
        except (ImportError, AttributeError):
            continue
    items += [type(np.dtype(t)) for t in ("f4", "f8", "i4", "i8", "u1", "bool")]
    return items


def detect_source(data: dict[str, Any]) -> str:
    """ "native", "official" or "mmseg" from a loaded checkpoint dict; ValueError when none fits."""
    if data.get("format") == FORMAT:
        return "native"
    try:
        keys = list(_state_dict_of(data))
    except ValueError:
        keys = []
    if any(k.startswith(("head.sa.", "pretrained.")) for k in keys):
        return "official"
    if any(k.startswith("decode_head.") for k in keys):
        return "mmseg"
    sample = ", ".join((keys or [str(k) for k in data])[:5])
    raise ValueError(f"unrecognised layout (keys like {sample}); expected a native, official or mmseg DANet")


def _state_dict_of(data: dict[str, Any]) -> dict[str, torch.Tensor]:
    state = data.get("state_dict", data.get("model", data))
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError("no state_dict of tensors; expected a model checkpoint")
    # DataParallel / DDP saves prefix every key with "module."
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def _summarise(keys: list[str], n: int = 5) -> str:
    more = f" (+{len(keys) - n} more)" if len(keys) > n else ""
    return ", ".join(keys[:n]) + more


def _load_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path, layout: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [
        f"{k} {tuple(v.shape)} vs {tuple(own[k].shape)}"
        for k, v in state.items()
        if k in own and v.shape != own[k].shape
    ]
    if missing or unexpected or wrong:
        parts = [
            f"missing {len(missing)}: {_summarise(missing)}" if missing else "",
            f"unexpected {len(unexpected)}: {_summarise(unexpected)}" if unexpected else "",
            f"wrong shape {len(wrong)}: {_summarise(wrong, 3)}" if wrong else "",
        ]
        raise CheckpointError(
            f"{path}: weights do not fit a {layout} DANet ({'; '.join(p for p in parts if p)})"
        )
    model.load_state_dict(state, strict=False)


def _default_classes(data: dict[str, Any], num_classes: int) -> list[dict[str, Any]]:
    """Class names for imported weights: mmseg metadata, else Cityscapes for 19 outputs, else generic."""
    raw_meta = data.get("meta")
    meta: dict[str, Any] = raw_meta if isinstance(raw_meta, dict) else {}
    raw_ds = meta.get("dataset_meta")
    ds: dict[str, Any] = raw_ds if isinstance(raw_ds, dict) else meta
    names, palette = ds.get("classes", ds.get("CLASSES")), ds.get("palette", ds.get("PALETTE"))
    if names is not None and len(names) == num_classes:
        colors = (
            [list(map(int, c)) for c in palette]
            if palette is not None and len(palette) == num_classes
            else None
        )
        from danet_core.labels import voc_palette

        colors = colors or voc_palette()[:num_classes].tolist()
        return [{"name": str(n), "color": colors[i], "train_id": i} for i, n in enumerate(names)]
    from danet_core.labels import voc_palette

    cityscapes = _label_set_classes("cityscapes", num_classes)
    if cityscapes is not None:
        log.info("imported checkpoint has 19 outputs: naming them as the Cityscapes train classes")
        return cityscapes
    log.warning("imported checkpoint names no classes: calling its %d outputs class_0..", num_classes)
    pal = voc_palette()
    return [{"name": f"class_{i}", "color": pal[i % 256].tolist(), "train_id": i} for i in range(num_classes)]


def _native_model(
    data: dict[str, Any], path: Path, arch_options: dict[str, Any]
) -> tuple[Segmenter, ModelMeta]:
    if data.get("format") != FORMAT:
        raise CheckpointError(
            f"{path}: not a native checkpoint (no format field {FORMAT!r}); "
            "use source='official' or 'mmseg' for imported layouts"
        )
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {version!r}; this program reads <= {FORMAT_VERSION}"
        )
    unknown = sorted(set(arch_options) - {"pam_impl"})
    if unknown:
        raise ValueError(
            f"options {unknown} cannot change a native checkpoint's architecture; only pam_impl can"
        )
    try:
        config = ModelConfig.from_dict({**data["config"], **arch_options})
        meta = ModelMeta(
            config,
            _check_classes(data["classes"], config.num_classes),
            _norm_triple(data["mean"], "mean"),
            _norm_triple(data["std"], "std"),
            "native",
            str(path),
            dict(data.get("extra") or {}),
        )
        state = _state_dict_of(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged native checkpoint ({type(exc).__name__}: {exc})") from exc
    model = build_model(config)
    _load_weights(model, state, path, "native")
    return model, meta


def _assumed_options(
    path: Path, source: str, entry: zoo.ZooEntry | None, given: dict[str, Any]
) -> dict[str, Any]:
    """What the weights cannot reveal: the zoo entry's facts for a published file, else a warning that
    names the layout's defaults being assumed (mmseg 769x769 models use align_corners=True; official
    checkpoints trained without multi-grid need ``multi_grid=None``)."""
    if entry is not None:
        log.info("%s is the zoo's %s: using its architecture options", path, entry.name)
        return entry.arch_options()
    unknown = [k for k in ("multi_grid", "align_corners") if k not in given]
    if unknown:
        defaults = ", ".join(f"{k}={convert.LAYOUT_DEFAULTS[source][k]}" for k in unknown)
        hint = (
            " (its name says 769x769: mmseg trained those with align_corners=True)"
            if source == "mmseg" and "769x769" in path.name and "align_corners" in unknown
            else ""
        )
        log.warning(
            "%s: %s cannot be read from the weights; assuming the %s defaults %s%s. Pass them explicitly "
            "(--multi-grid / --no-multi-grid / --align-corners) if this file was trained otherwise",
            path, " and ".join(unknown), source, defaults, hint,
        )  # fmt: skip
    return {}


def _has_class_names(data: dict[str, Any]) -> bool:
    meta = data.get("meta")
    if not isinstance(meta, dict):
        return False
    inner = meta.get("dataset_meta")
    ds: dict[str, Any] = inner if isinstance(inner, dict) else meta
    return bool(ds.get("classes", ds.get("CLASSES")))


def _label_set_classes(name: str, num_classes: int) -> list[dict[str, Any]] | None:
    from danet_core.labels import get_label_set

    train = get_label_set(name).train_classes()
    if len(train) != num_classes:
        return None
    return [{"name": c.name, "color": list(c.color), "train_id": c.train_id} for c in train]


def _imported_model(
    data: dict[str, Any],
    path: Path,
    source: str,
    arch_options: dict[str, Any],
    classes: list[dict[str, Any]] | None,
) -> tuple[Segmenter, ModelMeta]:
    try:
        state = _state_dict_of(data)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from exc
    if source == "official":
        renamed, unmatched = convert.rename_keys(state, convert.OFFICIAL_RULES, convert.OFFICIAL_IGNORED)
    else:
        renamed, unmatched = convert.rename_keys(state, convert.MMSEG_RULES)
    if unmatched:
        raise CheckpointError(
            f"{path}: {len(unmatched)} keys unknown to the {source} DANet layout: {_summarise(unmatched)}"
        )
    entry = zoo.match_file(path)
    entry = entry if entry is not None and entry.source == source else None
    try:
        arch = convert.infer_architecture(renamed)
        options = {**_assumed_options(path, source, entry, arch_options), **arch_options}
        config = ModelConfig(**convert.layout_config(source, arch, options))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a {source} DANet checkpoint ({exc})") from exc
    model = build_model(config)
    _load_weights(model, renamed, path, source)
    if not classes and entry is not None and entry.label_set and not _has_class_names(data):
        classes = _label_set_classes(entry.label_set, config.num_classes)
    classes = (
        _check_classes(classes, config.num_classes) if classes else _default_classes(data, config.num_classes)
    )
    extra = {"imported_from": str(path), "source": source}
    meta = ModelMeta(config, classes, convert.IMAGENET_MEAN, convert.IMAGENET_STD, source, str(path), extra)
    return model, meta


def load_model(
    path: str | os.PathLike[str],
    *,
    source: str = "auto",
    device: str | torch.device = "cpu",
    classes: list[dict[str, Any]] | None = None,
    **arch_options: Any,
) -> Segmenter:
    """Load a native, official or mmseg DANet checkpoint as an eval-mode model with ``model.meta``.

    ``source="auto"`` recognises the layout from the keys. ``arch_options`` are :class:`ModelConfig`
    fields the weights cannot reveal, for imported layouts: official defaults ``multi_grid=(4, 8, 16)``,
    ``align_corners=True`` (the released DANet101); mmseg defaults ``multi_grid=None``,
    ``align_corners=False``. Depth, stem, class count and aux head are inferred from the weights. For a
    native checkpoint only ``pam_impl`` may be given. ``classes`` names an imported model's outputs
    (default: the checkpoint's mmseg metadata, Cityscapes for 19 outputs, else class_0..).
    """
    if source not in SOURCES:
        raise ValueError(f"checkpoint source {source!r}; expected one of {SOURCES}")
    p = Path(path)
    data = load_checkpoint(p)
    if source == "auto":
        try:
            source = detect_source(data)
        except ValueError as exc:
            raise CheckpointError(f"{p}: {exc}") from exc
    if source == "native":
        model, meta = _native_model(data, p, arch_options)
    else:
        model, meta = _imported_model(data, p, source, arch_options, classes)
    model.meta = meta
    log.info(
        "loaded %s checkpoint %s (%s R%d, %d classes)",
        source,
        p,
        meta.config.name,
        meta.config.depth,
        meta.config.num_classes,
    )
    return model.to(device).eval()
