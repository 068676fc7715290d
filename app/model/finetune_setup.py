"""What the Fine-tune action decides before and after a run, without a window.

- :func:`new_run_dir`: a fresh ``<project>/finetune/run-<time>[~n]`` folder name (the layout inside it
  is :mod:`danet_core.training.layout`).
- :class:`CheckpointMetaCache`: classes and config of a checkpoint, read once per file version (project
  model files are never rewritten in place, so the panel's refresh after every autosave does not re-read
  a 100 MB file).
- :func:`label_set_change`: what differs between the classes a model predicts and the project's train
  classes ("" when nothing), so the user is asked before a run re-initialises the classifier.
- :func:`project_plan`: the one-click plan for a project (reviewed images, active model depth, image
  sizes, device, whether the backbone is worth keeping) through
  :func:`danet_core.training.finetune_plan.default_plan`.
- :func:`backbone_worth_keeping`: the rule that picks the fast (frozen-backbone) fine-tune.
- :func:`version_metrics`: the figures stored with the new model version.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.model.finetune_eval import Comparison
from app.model.finetune_run import RunOutcome
from danet_core.labels import LabelSet
from danet_core.project import ModelVersion, Project, ProjectError
from danet_core.training.finetune_plan import FinetunePlan, default_plan

log = logging.getLogger(__name__)

FINETUNE_DIR = "finetune"


def new_run_dir(project_dir: Path, now: float | None = None) -> Path:
    """``<project>/finetune/run-YYYYmmdd-HHMMSS``, with ``~1``, ``~2`` ... when that name is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    base = Path(project_dir) / FINETUNE_DIR / f"run-{stamp}"
    run_dir, suffix = base, 1
    while run_dir.exists():
        run_dir = base.with_name(f"{base.name}~{suffix}")
        suffix += 1
    return run_dir


@dataclass
class CheckpointMetaCache:
    """``{"classes": [...], "config": {...}}`` of checkpoints, keyed by (path, mtime)."""

    entries: dict[tuple[str, float], dict[str, Any]] = field(default_factory=dict)

    def get(self, path: Path) -> dict[str, Any]:
        """Raises OSError / ValueError (CheckpointError) for a missing or unreadable file."""
        from danet_core.checkpoints import load_checkpoint

        key = (str(path), path.stat().st_mtime)
        if key not in self.entries:
            data = load_checkpoint(path)
            self.entries[key] = {"classes": data.get("classes") or [], "config": data.get("config") or {}}
        return self.entries[key]

    def depth(self, path: Path) -> int | None:
        """The backbone depth of a checkpoint; None (logged) when it cannot be read."""
        try:
            depth = self.get(path)["config"].get("depth")
        except (OSError, ValueError) as exc:
            log.warning("cannot read the active model %s: %s", path, exc)
            return None
        return int(depth) if depth else None

    def label_set_change(self, path: Path, label_set: LabelSet) -> str:
        try:
            names = [c["name"] for c in self.get(path)["classes"]]
        except (OSError, ValueError) as exc:
            return f"its checkpoint cannot be read: {exc}"
        return label_set_change(names, label_set)


def version_label_set_change(version: ModelVersion, label_set: LabelSet, cache: CheckpointMetaCache) -> str:
    """:func:`label_set_change` for a model version, from the class names it recorded (no checkpoint
    read on the GUI thread); versions from before they were recorded read their checkpoint once."""
    recorded = version.metrics.get("classes")
    if isinstance(recorded, list) and all(isinstance(n, str) for n in recorded):
        return label_set_change(recorded, label_set)
    return cache.label_set_change(version.path, label_set)


def label_set_change(model_classes: list[str], label_set: LabelSet) -> str:
    """ "" when the model predicts exactly the project's train classes, else what differs."""
    wanted = [c.name for c in label_set.train_classes()]
    if model_classes == wanted:
        return ""
    added = [n for n in wanted if n not in model_classes]
    removed = [n for n in model_classes if n not in wanted]
    parts = []
    if added:
        parts.append("added: " + ", ".join(added[:6]) + (" …" if len(added) > 6 else ""))
    if removed:
        parts.append("removed: " + ", ".join(removed[:6]) + (" …" if len(removed) > 6 else ""))
    return "; ".join(parts) or "classes reordered"


def active_depth(version: ModelVersion | None, cache: CheckpointMetaCache) -> int | None:
    """Backbone depth of the active model: from what its version recorded (the plan of a fine-tuned
    version, the architecture of an imported one: no checkpoint read), else from the checkpoint."""
    if version is None:
        return None
    recorded = (version.metrics.get("plan") or {}).get("depth") or (
        version.metrics.get("architecture") or {}
    ).get("depth")
    return int(recorded) if recorded else cache.depth(version.path)


def backbone_worth_keeping(project: Project, version: ModelVersion | None) -> bool:
    """Whether a run from ``version`` should keep its backbone frozen (the fast fine-tune).

    True for an imported model and for versions fine-tuned from one (continuing from their parent, back
    to an import), and for a new model when torchvision's ImageNet ResNet-18 weights are in the torch
    cache; False for a model whose line starts from a random backbone trained a few minutes.
    """
    if version is None:
        return imagenet_weights_cached(18)  # the CPU plan's new-model depth; the fast path is CPU-only
    seen: set[int] = set()
    while version is not None and version.id not in seen:
        if version.metrics.get("imported_from"):
            return True
        if not (version.metrics.get("plan") or {}).get("init_from_active") or version.parent is None:
            return False
        seen.add(version.id)
        try:
            version = project.model_version(version.parent)
        except ProjectError:  # the parent's record is gone: nothing says where the backbone came from
            return False
    return False


def imagenet_weights_cached(depth: int) -> bool:
    """torchvision's ResNet-``depth`` ImageNet file is in the torch hub cache (checked without torch)."""
    home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch"
    )
    folder = Path(home) / "hub" / "checkpoints"
    return folder.is_dir() and any(folder.glob(f"resnet{depth}-*.pth"))


def project_plan(project: Project, *, device: str, cache: CheckpointMetaCache) -> FinetunePlan:
    """The plan one click trains with (ValueError when there is nothing to train on).

    ``device``: a resolved device name ("cpu", "cuda", "cuda:1"; see ``danet_core.options``).
    """
    reviewed = project.images(status="reviewed")
    sides = [min(r.width, r.height) for r in reviewed if r.width and r.height]
    version = project.active_model_version()
    return default_plan(
        len(reviewed),
        device=device,
        active_depth=active_depth(version, cache),
        min_image_side=min(sides) if sides else None,
        keep_backbone=backbone_worth_keeping(project, version),
    )


def version_metrics(
    cmp: Comparison,
    outcome: RunOutcome,
    plan: FinetunePlan,
    *,
    previous: ModelVersion | None,
    reviewed_images: int,
    classes: list[str] | None = None,
) -> dict[str, Any]:
    """What a fine-tuned model version records about how it was made and how it scored (and the class
    names it predicts, so later label-set checks need no checkpoint read)."""
    return {
        "classes": classes,
        "heldout_miou": cmp.new_miou,
        "previous_miou": cmp.old_miou,
        "previous_version": previous.id if previous is not None else None,
        "heldout_images": cmp.heldout_images,
        "reviewed_images": reviewed_images,
        "iterations": outcome.iterations,
        "run_dir": str(outcome.run_dir),
        "plan": plan.to_dict(),
        "note": cmp.note,
    }
