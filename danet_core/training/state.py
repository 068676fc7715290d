"""What a checkpoint must hold for ``--resume`` to continue exactly, and the model set-up of a run.

Resume state (``train_state`` of a native checkpoint): iteration and epoch, best mIoU so far, optimiser,
LR scheduler and GradScaler states, and the RNG states (torch CPU/CUDA, numpy, python). Everything is
stored as tensors, numbers, strings, lists and dicts so the file loads with ``weights_only=True``.

Model set-up: a fresh model from ``cfg.model`` + ``cfg.model_options``, or (``init_checkpoint``) the
architecture and weights of a native checkpoint, with classifier layers re-initialised when the class
count differs (the fine-tune case where the user added a class).
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from torch import nn

from .config import TrainConfig

if TYPE_CHECKING:
    from danet_core.models import Segmenter

log = logging.getLogger(__name__)


class ResumeError(ValueError):
    """A checkpoint that cannot continue this run (other architecture, other classes, no train state)."""


# ---------------------------------------------------------------------------------------------- RNG
def rng_state() -> dict[str, Any]:
    # The legacy MT19937 tuple (what set_rng_state restores); numpy's stubs type it as tuple | dict
    np_state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state(legacy=True))
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "key": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _py_state_to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["key"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _py_state_to_lists(st: tuple) -> list:
    version, internal, gauss = st
    return [version, list(internal), gauss]


# ---------------------------------------------------------------------------------------------- model
def build_fresh_model(cfg: TrainConfig, num_classes: int) -> Segmenter:
    from danet_core.models import get_model

    options = dict(cfg.model_options)
    options.pop("num_classes", None)
    # from scratch: ImageNet backbone weights when cached or downloadable, else random with a warning
    options.setdefault("pretrained_backbone", "auto")
    return get_model(cfg.model, num_classes=num_classes, **options)


def build_from_checkpoint(path: str | Path, num_classes: int) -> Segmenter:
    """The architecture and weights of a native checkpoint; classifier layers re-initialised when the
    class count (or any other shape) differs from ``num_classes``."""
    from danet_core.checkpoints import load_checkpoint
    from danet_core.models import ModelConfig, build_model

    ckpt = load_checkpoint(path)
    mcfg = ModelConfig.from_dict({**checkpoint_model_config(ckpt, path), "num_classes": num_classes})
    model = build_model(mcfg)
    own = model.state_dict()
    weights = checkpoint_weights(ckpt, path)
    compatible = {k: v for k, v in weights.items() if k in own and own[k].shape == v.shape}
    reinit = sorted(k for k in own if k not in compatible)
    model.load_state_dict(compatible, strict=False)
    if reinit:
        log.info(
            "init_checkpoint %s: %d tensor(s) re-initialised (shape differs, %d classes now): %s",
            path,
            len(reinit),
            num_classes,
            ", ".join(reinit[:8]) + (" ..." if len(reinit) > 8 else ""),
        )
    unused = sorted(set(weights) - set(own))
    if unused:
        log.warning(
            "init_checkpoint %s: %d tensor(s) not used by the model: %s", path, len(unused), unused[:8]
        )
    return model


def checkpoint_model_config(ckpt: dict[str, Any], path: str | Path) -> dict[str, Any]:
    cfg = ckpt.get("config") or ckpt.get("model_config")
    if not isinstance(cfg, dict):
        raise ResumeError(f"{path}: checkpoint has no model config; expected a native danet checkpoint")
    return dict(cfg)


def checkpoint_weights(ckpt: dict[str, Any], path: str | Path) -> dict[str, torch.Tensor]:
    for key in ("model", "state_dict", "weights"):
        if isinstance(ckpt.get(key), dict):
            return ckpt[key]
    raise ResumeError(f"{path}: checkpoint has no weights; expected a native danet checkpoint")


def check_same_architecture(ckpt: dict[str, Any], path: str | Path, model: Segmenter) -> None:
    """Resume needs the very same model: compare the stored ModelConfig with the one built now."""
    saved = checkpoint_model_config(ckpt, path)
    current = model.config.to_dict()
    diffs = [
        f"{k}={saved.get(k)!r} (this run: {current.get(k)!r})"
        for k in current
        if saved.get(k) != current.get(k)
    ]
    if diffs:
        raise ResumeError(
            f"{path}: cannot resume: the checkpoint is a different model: {'; '.join(diffs)}. "
            "Resume with the config of that run, or use init_checkpoint to start a new run from its weights"
        )


def load_train_state(
    ckpt: dict[str, Any], path: str | Path, model: nn.Module, optimizer: Any, scheduler: Any, scaler: Any
) -> dict[str, Any]:
    """Put a checkpoint's weights and optimiser/scheduler/scaler states back; returns its train_state."""
    check_same_architecture(ckpt, path, unwrap(model))
    st = ckpt["train_state"]
    try:
        model.load_state_dict(checkpoint_weights(ckpt, path))
        optimizer.load_state_dict(st["optimizer"])
        scheduler.load_state_dict(st["scheduler"])
        scaler.load_state_dict(st["scaler"])
    except (RuntimeError, KeyError, ValueError) as exc:
        raise ResumeError(f"{path}: cannot restore the training state ({exc})") from exc
    return st


def unwrap(model: nn.Module) -> Segmenter:
    """The training model: ``model`` itself or, under DDP, the module it wraps."""
    inner = model.module if hasattr(model, "module") else model
    # training only builds Segmenters (build_fresh_model / build_from_checkpoint); nn.Module's dynamic
    # attributes (``.module``) are typed Tensor | Module, so the type system cannot see it
    return cast("Segmenter", inner)


def non_finite_entries(model: nn.Module) -> list[str]:
    """Names of the floating-point state entries holding NaN or inf (a diverged run)."""
    return [n for n, p in model.state_dict().items() if p.is_floating_point() and not torch.isfinite(p).all()]


def write_checkpoint(
    path: Path,
    model: Segmenter,
    *,
    cfg: TrainConfig,
    class_names: list[str],
    class_colors: list[Any],
    train_state: dict[str, Any],
    run_dir: Path,
) -> None:
    """The run's self-describing checkpoint (written atomically by ``save_checkpoint``); a failed write
    names the file (ENOSPC names none by itself)."""
    from danet_core.checkpoints import save_checkpoint

    classes = [
        {"name": n, "color": list(c), "train_id": i}
        for i, (n, c) in enumerate(zip(class_names, class_colors, strict=True))
    ]
    try:
        save_checkpoint(
            path,
            model,
            classes=classes,
            mean=list(cfg.mean),
            std=list(cfg.std),
            train_state=train_state,
            extra={"run_dir": str(run_dir)},
        )
    except OSError as exc:
        raise OSError(exc.errno, f"{path}: cannot write the checkpoint ({exc.strerror or exc})") from exc
