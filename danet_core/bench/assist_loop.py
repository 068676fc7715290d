"""Bookkeeping of the simulated annotator loop (``danet bench assist``), as pure functions.

The benchmark replays what a user of the app does: pre-segment the next K images with the current
model, correct every wrong pixel, fine-tune on all corrected images so far, repeat. What it measures is
the share of labelled pixels the annotator would still have to change: manual labeling from scratch is
100% of them, and every point the loop takes off that figure is work saved. The numbers here are kept
free of models and files so a hand-made case pins them down in a unit test. Scores use the training engine's
:class:`~danet_core.training.metrics.ConfusionMatrix` (the one definition of mIoU).

Conventions: masks are uint8 H x W arrays of class ids with ``ignore_index`` (255) for void; void pixels
are neither counted as work nor scored (the annotator leaves them unlabeled, as CamVid's void).

Two effort figures per image: the wrong pixels (what a brush repaints) and the connected error regions
of at least ``MIN_REGION`` pixels (8-connected; each is one fill or one polygon for the annotator, so a
scatter of one-pixel slips along a boundary costs little even when it adds up to many pixels).
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import cv2
import numpy as np

from danet_core.files import atomic_write_bytes
from danet_core.training.metrics import metrics_from_confusion

MIN_REGION = 64  # pixels: an error region smaller than this is left to the brush, not counted as a fill


@dataclass(frozen=True)
class Corrections:
    """What correcting one prediction costs: ``wrong`` of the ``labelled`` (non-void) pixels change, in
    ``regions`` connected error regions of at least ``MIN_REGION`` pixels."""

    wrong: int
    labelled: int
    regions: int = 0

    @property
    def share(self) -> float:
        return self.wrong / self.labelled if self.labelled else 0.0


def count_corrections(
    prediction: np.ndarray, truth: np.ndarray, ignore_index: int = 255, min_region: int = MIN_REGION
) -> Corrections:
    """Pixels (and error regions) the annotator changes to turn ``prediction`` into ``truth`` (uint8)."""
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and ground truth {truth.shape} differ in size")
    labelled = truth != ignore_index
    wrong = labelled & (prediction != truth)
    return Corrections(
        wrong=int(wrong.sum()), labelled=int(labelled.sum()), regions=count_regions(wrong, min_region)
    )


def count_regions(wrong: np.ndarray, min_region: int = MIN_REGION) -> int:
    """Connected regions of ``wrong`` (bool H x W) with at least ``min_region`` pixels, 8-connectivity.

    8-connectivity (diagonal neighbours join) because one fill or polygon covers a diagonal chain in one
    go. Regions are of wrong pixels whatever the classes involved; void pixels are never wrong, so they
    separate regions (the annotator leaves them alone).
    """
    if not wrong.any():
        return 0
    n, _, stats, _ = cv2.connectedComponentsWithStats(wrong.astype(np.uint8), connectivity=8)
    return int((stats[1:n, cv2.CC_STAT_AREA] >= min_region).sum())


def apply_corrections(prediction: np.ndarray, truth: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """The mask after correction: every labelled pixel takes the true class; void stays unlabeled.

    Written as an edit of the prediction (not a copy of the truth) so the simulated annotator does
    exactly what :func:`count_corrections` charges for.
    """
    labelled = truth != ignore_index
    out = np.where(labelled & (prediction != truth), truth, prediction).astype(np.uint8)
    out[~labelled] = ignore_index
    return out


def round_batches(stream_size: int, rounds: int, per_round: int) -> list[range]:
    """Indices into the image stream that each round pre-segments and corrects (consecutive, disjoint)."""
    if rounds < 1 or per_round < 1:
        raise ValueError(f"rounds={rounds}, per_round={per_round}; expected both >= 1")
    if rounds * per_round > stream_size:
        raise ValueError(
            f"{rounds} rounds x {per_round} images need {rounds * per_round} stream images; "
            f"only {stream_size} are available"
        )
    return [range(r * per_round, (r + 1) * per_round) for r in range(rounds)]


@dataclass(frozen=True)
class RoundRecord:
    """One round of the loop. ``share_to_correct`` and ``error_regions`` are measured on the round's
    images with the model *before* the round's fine-tune; the held-out figures with the model *after*
    it (``finetune_iters`` 0: the fine-tune was skipped and the held-out model is the previous one).

    ``heldout_share_to_correct`` is 1 - pixel accuracy on the held-out set: the same work figure as
    ``share_to_correct`` but on many more images, so far less noisy than one round's K images.
    """

    round: int
    images: int  # images pre-segmented and corrected in this round
    corrected_total: int  # corrected images the fine-tune trained on
    pixels_to_correct: int
    pixels_labelled: int
    share_to_correct: float
    error_regions: int  # connected error regions >= MIN_REGION px over the round's images
    finetune_s: float
    finetune_iters: int
    finetune_lr: float
    finetune_it_per_s: float  # training iterations per second (set-up and prediction excluded)
    heldout_miou: float
    heldout_pixel_acc: float
    heldout_share_to_correct: float
    heldout_iou: dict[str, float | None]  # per class name; None: class absent from truth and prediction


@dataclass(frozen=True)
class Finetune:
    """What one round's fine-tune did: seconds of ``train()``, iterations, base learning rate and the
    training rate (iterations per second of training, from the run's log; set-up excluded)."""

    seconds: float = 0.0
    iterations: int = 0
    lr: float = 0.0
    it_per_s: float = 0.0


def make_round(
    round_index: int,
    corrections: list[Corrections],
    corrected_total: int,
    *,
    finetune: Finetune,
    heldout_confusion: np.ndarray,
    class_names: Sequence[str] | None = None,
) -> RoundRecord:
    """Sum the round's corrections and score the held-out confusion matrix (classes named in order)."""
    wrong = sum(c.wrong for c in corrections)
    labelled = sum(c.labelled for c in corrections)
    scored = metrics_from_confusion(heldout_confusion)
    miou = 0.0 if math.isnan(scored.miou) else scored.miou
    total = heldout_confusion.sum()
    acc = float(np.trace(heldout_confusion) / total) if total else 0.0
    names = list(class_names) if class_names is not None else [str(i) for i in range(len(scored.iou))]
    if len(names) != len(scored.iou):
        raise ValueError(f"{len(names)} class names for a {len(scored.iou)}-class confusion matrix")
    return RoundRecord(
        round=round_index,
        images=len(corrections),
        corrected_total=corrected_total,
        pixels_to_correct=wrong,
        pixels_labelled=labelled,
        share_to_correct=wrong / labelled if labelled else 0.0,
        error_regions=sum(c.regions for c in corrections),
        finetune_s=finetune.seconds,
        finetune_iters=finetune.iterations,
        finetune_lr=finetune.lr,
        finetune_it_per_s=finetune.it_per_s,
        heldout_miou=miou,
        heldout_pixel_acc=acc,
        heldout_share_to_correct=1.0 - acc if total else 1.0,
        heldout_iou={n: None if math.isnan(v) else float(v) for n, v in zip(names, scored.iou, strict=True)},
    )


def summarise(records: list[RoundRecord], baseline_miou: float) -> dict:
    """The JSON figures: per-round rows plus the headlines "after round r the loop needs X%".

    ``needs_after_round[r]`` is the share the annotator corrected in round r + 1, i.e. with the model
    fine-tuned after round r (``error_regions_after_round`` the same for the region count); manual
    labeling is 1.0 by definition. ``heldout_needs_after_round[r]`` is the held-out share after round
    r's fine-tune (rounds whose fine-tune was skipped are left out: their model is the previous one).
    """
    rows = [asdict(r) for r in records]
    after = {str(r.round - 1): r.share_to_correct for r in records if r.round > 0}
    regions = {str(r.round - 1): r.error_regions for r in records if r.round > 0}
    heldout = {str(r.round): r.heldout_share_to_correct for r in records if r.finetune_iters > 0}
    total_wrong = sum(r.pixels_to_correct for r in records)
    total_labelled = sum(r.pixels_labelled for r in records)
    return {
        "manual_share": 1.0,
        "heldout_miou_before_any_finetune": baseline_miou,
        "rounds": rows,
        "needs_after_round": after,
        "error_regions_after_round": regions,
        "heldout_needs_after_round": heldout,
        "overall_share_to_correct": total_wrong / total_labelled if total_labelled else 0.0,
        "total_error_regions": sum(r.error_regions for r in records),
        "total_finetune_s": sum(r.finetune_s for r in records),
        "total_finetune_iters": sum(r.finetune_iters for r in records),
    }


def plot_summary(summary: dict, path: str | os.PathLike[str], *, title: str = "Assist loop") -> None:
    """Two panels: share of pixels to correct per round (manual = 100%), held-out mIoU per round."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = summary["rounds"]
    rounds = [r["round"] for r in rows]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    ax1.bar(rounds, [100 * r["share_to_correct"] for r in rows], color="#4c72b0", label="assist loop")
    held = summary.get("heldout_needs_after_round", {})
    if held:  # the held-out share of the model each round pre-segments with (the previous round's)
        xs = [int(r) + 1 for r in held]
        ax1.plot(xs, [100 * v for v in held.values()], "o", color="#dd8452", label="held-out")
    ax1.axhline(100, color="#c44e52", linestyle="--", label="manual labeling")
    ax1.set_xlabel("round (images pre-segmented by the model of the previous round)")
    ax1.set_ylabel("pixels to correct (%)")
    ax1.set_ylim(0, 105)
    ax1.set_xticks(rounds)
    ax1.legend(loc="upper right")
    ax2.plot(
        [-1, *rounds],
        [summary["heldout_miou_before_any_finetune"], *[r["heldout_miou"] for r in rows]],
        marker="o",
        color="#55a868",
    )
    ax2.set_xlabel("after round (-1 = initial model)")
    ax2.set_ylabel("held-out mIoU")
    ax2.set_xticks([-1, *rounds])
    fig.suptitle(title)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, buf.getvalue())
