"""Bookkeeping of the simulated annotator loop (``danet bench assist``), as pure functions.

The benchmark replays what a user of the app does: pre-segment the next K images with the current
model, correct every wrong pixel, fine-tune on all corrected images so far, repeat. What it measures is
the share of labelled pixels the annotator would still have to change: manual labeling from scratch is
100% of them, and every point the loop takes off that figure is work saved. The numbers here are kept
free of models and files so a hand-made case pins them down in a unit test. Scores use the training engine's
:class:`~danet_core.training.metrics.ConfusionMatrix` (the one definition of mIoU).

Conventions: masks are uint8 H x W arrays of class ids with ``ignore_index`` (255) for void; void pixels
are neither counted as work nor scored (the annotator leaves them unlabeled, as CamVid's void).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import asdict, dataclass

import numpy as np

from danet_core.files import atomic_write_bytes
from danet_core.training.metrics import metrics_from_confusion


@dataclass(frozen=True)
class Corrections:
    """What correcting one prediction costs: ``wrong`` of the ``labelled`` (non-void) pixels change."""

    wrong: int
    labelled: int

    @property
    def share(self) -> float:
        return self.wrong / self.labelled if self.labelled else 0.0


def count_corrections(prediction: np.ndarray, truth: np.ndarray, ignore_index: int = 255) -> Corrections:
    """Pixels the annotator changes to turn ``prediction`` into ``truth`` (both uint8 H x W)."""
    if prediction.shape != truth.shape:
        raise ValueError(f"prediction {prediction.shape} and ground truth {truth.shape} differ in size")
    labelled = truth != ignore_index
    wrong = labelled & (prediction != truth)
    return Corrections(wrong=int(wrong.sum()), labelled=int(labelled.sum()))


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
    """One round of the loop. ``share_to_correct`` is measured with the model *before* the round's
    fine-tune; ``heldout_miou`` with the model *after* it."""

    round: int
    images: int  # images pre-segmented and corrected in this round
    corrected_total: int  # corrected images the fine-tune trained on
    pixels_to_correct: int
    pixels_labelled: int
    share_to_correct: float
    finetune_s: float
    finetune_iters: int
    heldout_miou: float
    heldout_pixel_acc: float


def make_round(
    round_index: int,
    corrections: list[Corrections],
    corrected_total: int,
    *,
    finetune_s: float,
    finetune_iters: int,
    heldout_confusion: np.ndarray,
) -> RoundRecord:
    wrong = sum(c.wrong for c in corrections)
    labelled = sum(c.labelled for c in corrections)
    scored = metrics_from_confusion(heldout_confusion)
    miou = 0.0 if math.isnan(scored.miou) else scored.miou
    total = heldout_confusion.sum()
    return RoundRecord(
        round=round_index,
        images=len(corrections),
        corrected_total=corrected_total,
        pixels_to_correct=wrong,
        pixels_labelled=labelled,
        share_to_correct=wrong / labelled if labelled else 0.0,
        finetune_s=finetune_s,
        finetune_iters=finetune_iters,
        heldout_miou=miou,
        heldout_pixel_acc=float(np.trace(heldout_confusion) / total) if total else 0.0,
    )


def summarise(records: list[RoundRecord], baseline_miou: float) -> dict:
    """The JSON figures: per-round rows plus the headline "after round r the loop needs X%".

    ``needs_after_round[r]`` is the share the annotator corrected in round r + 1, i.e. with the model
    fine-tuned after round r; manual labeling is 1.0 by definition.
    """
    rows = [asdict(r) for r in records]
    after = {str(r.round - 1): r.share_to_correct for r in records if r.round > 0}
    total_wrong = sum(r.pixels_to_correct for r in records)
    total_labelled = sum(r.pixels_labelled for r in records)
    return {
        "manual_share": 1.0,
        "heldout_miou_before_any_finetune": baseline_miou,
        "rounds": rows,
        "needs_after_round": after,
        "overall_share_to_correct": total_wrong / total_labelled if total_labelled else 0.0,
        "total_finetune_s": sum(r.finetune_s for r in records),
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
    ax1.axhline(100, color="#c44e52", linestyle="--", label="manual labeling")
    ax1.set_xlabel("round (images pre-segmented by the model of the previous round)")
    ax1.set_ylabel("pixels to correct (%)")
    ax1.set_ylim(0, 105)
    ax1.set_xticks(rounds)
    ax1.legend(loc="lower left")
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
