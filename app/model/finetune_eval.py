"""Old model vs new model on the held-out reviewed images, and the rule that picks the active one.

The held-out part is the training engine's own ``split="val"`` of the project dataset (a stable hash of
each image's path with ``val_fraction``), so the images that decide were never trained on by any
fine-tune of this project, and both models are scored on exactly the same pixels through the same
``Predictor`` the app pre-segments with.

Decision rule (:func:`decide`): the new model becomes active by itself only when the comparison can
judge it: at least ``MIN_HELDOUT_TO_JUDGE`` held-out images, a held-out mIoU of at least
``MIN_MIOU_TO_ACTIVATE`` (a model below it would pre-segment everything badly, and Ctrl+Enter would
accept that as "reviewed" in one key), and better than the previous model when there is one. In every
other case the user is asked, with both figures and the reason (:func:`guard_reason`); the old model
stays active unless the user says yes.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.options import PredictOptions
from danet_core.training.finetune_plan import MIN_HELDOUT_TO_JUDGE

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    """mIoU in 0..1 on ``heldout_images`` images; None where not measured (see ``note``)."""

    new_miou: float | None
    old_miou: float | None
    heldout_images: int
    note: str = ""


def _score(
    checkpoint: Path,
    dataset: Any,
    class_names: list[str],
    options: PredictOptions,
    should_stop: StopFn | None,
) -> tuple[float | None, str]:
    from danet_core.training.evaluation import score_checkpoint

    try:
        metrics, _ = score_checkpoint(checkpoint, dataset, options=options, class_names=class_names,
                                      should_stop=should_stop)  # fmt: skip
    except ValueError as exc:  # a model of other classes is not comparable: say so, do not fail the run
        return None, str(exc)
    return float(metrics.miou), ""


def compare_on_heldout(
    config_path: str | Path,
    new_checkpoint: str | Path,
    old_checkpoint: str | Path | None,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> Comparison:
    """Score both checkpoints on the held-out split of the run's config (``<run>/config.json``)."""
    from danet_core.training import TrainConfig
    from danet_core.training.loaders import build_data

    cfg = TrainConfig.load(config_path)
    if not cfg.val_split:
        return Comparison(None, None, 0, "no held-out images (too few reviewed images)")
    bundle = build_data(cfg)
    val = bundle.val
    if val is None or len(val) == 0:
        return Comparison(None, None, 0, "no reviewed image fell in the held-out part")
    options = cfg.predict_options()  # the run's device ("auto" resolved by the Predictor) and eval mode
    total = 2 if old_checkpoint else 1
    if progress:
        progress(0, total, f"scoring the new model on {len(val)} held-out images")
    new, note = _score(Path(new_checkpoint), val, bundle.class_names, options, should_stop)
    check_stop(should_stop)
    old = None
    if old_checkpoint:
        if progress:
            progress(1, total, "scoring the previous model")
        old, note_old = _score(Path(old_checkpoint), val, bundle.class_names, options, should_stop)
        note = note or note_old
    if progress:
        progress(total, total, "done")
    return Comparison(new, old, len(val), note)


MIN_MIOU_TO_ACTIVATE = 0.10


def guard_reason(comparison: Comparison, *, has_previous: bool, val_fraction: float = 0.2) -> str:
    """Why the comparison cannot switch the model by itself ("" when it can)."""
    if comparison.new_miou is None or comparison.heldout_images == 0:
        return "no held-out images could score it"
    if comparison.heldout_images < MIN_HELDOUT_TO_JUDGE:
        needed = math.ceil(MIN_HELDOUT_TO_JUDGE / max(val_fraction, 1e-9))
        return (
            f"{comparison.heldout_images} held-out image(s) are too few to judge it "
            f"({MIN_HELDOUT_TO_JUDGE} are needed: about {needed} reviewed images)"
        )
    if comparison.new_miou < MIN_MIOU_TO_ACTIVATE:
        return f"its held-out mIoU is below {100 * MIN_MIOU_TO_ACTIVATE:.0f}%"
    if has_previous and comparison.old_miou is not None and comparison.new_miou <= comparison.old_miou:
        return "it is not better than the previous model"
    return ""


def decide(comparison: Comparison, *, has_previous: bool) -> str:
    """ "use" (make the new model active), or "ask" (let the user choose; default keep the old one)."""
    return "ask" if guard_reason(comparison, has_previous=has_previous) else "use"


def describe(comparison: Comparison) -> str:
    def pct(v: float | None) -> str:
        return "—" if v is None else f"{100 * v:.1f}%"

    text = (
        f"Held-out mIoU on {comparison.heldout_images} reviewed image(s): "
        f"new model {pct(comparison.new_miou)}, previous model {pct(comparison.old_miou)}"
    )
    return text + (f" ({comparison.note})" if comparison.note else "")
