"""The assist-loop bookkeeping on a tiny hand-made case (no model, no data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from danet_core.bench.assist_loop import (
    apply_corrections,
    count_corrections,
    make_round,
    plot_summary,
    round_batches,
    summarise,
)
from danet_core.training.metrics import ConfusionMatrix, metrics_from_confusion

V = 255  # void

TRUTH = np.array([[0, 0, 1], [1, 2, V]], dtype=np.uint8)
PRED = np.array([[0, 1, 1], [2, 2, 0]], dtype=np.uint8)


def test_count_ignores_void_and_correction_yields_the_truth() -> None:
    c = count_corrections(PRED, TRUTH)
    # wrong: (0,1) 1 vs 0, (1,0) 2 vs 1; (1,2) is void so not work even though it differs
    assert (c.wrong, c.labelled) == (2, 5)
    assert c.share == pytest.approx(0.4)
    fixed = apply_corrections(PRED, TRUTH)
    np.testing.assert_array_equal(fixed, TRUTH)
    assert count_corrections(fixed, TRUTH).wrong == 0
    with pytest.raises(ValueError, match="differ in size"):
        count_corrections(PRED[:1], TRUTH)


def test_round_batches_are_disjoint_and_refuse_a_short_stream() -> None:
    assert round_batches(10, 3, 3) == [range(0, 3), range(3, 6), range(6, 9)]
    with pytest.raises(ValueError, match="need 12 stream images; only 10"):
        round_batches(10, 3, 4)


def confusion_matrix(pred: np.ndarray, truth: np.ndarray, k: int) -> np.ndarray:
    cm = ConfusionMatrix(k)
    cm.update(pred, truth)
    return cm.mat


def test_confusion_and_miou_by_hand() -> None:
    """The loop scores with the training engine's ConfusionMatrix (one definition of mIoU)."""
    conf = confusion_matrix(PRED, TRUTH, 3)
    np.testing.assert_array_equal(conf, [[1, 1, 0], [0, 1, 1], [0, 0, 1]])
    m = metrics_from_confusion(conf)
    # IoU: class 0: 1/(1+1) ; class 1: 1/(2+2-1) ; class 2: 1/(2+1-1)
    assert list(m.iou) == pytest.approx([0.5, 1 / 3, 0.5])
    assert m.miou == pytest.approx((0.5 + 1 / 3 + 0.5) / 3)
    assert list(m.to_dict()["per_class_iou"].values()) == [0.5, round(1 / 3, 6), 0.5]
    assert list(
        metrics_from_confusion(np.zeros((2, 2), dtype=np.int64)).to_dict()["per_class_iou"].values()
    ) == [
        None,
        None,
    ]


def test_rounds_and_summary(tmp_path) -> None:
    perfect = confusion_matrix(TRUTH, TRUTH, 3)
    r0 = make_round(
        0,
        [count_corrections(PRED, TRUTH), count_corrections(np.full_like(PRED, 2), TRUTH)],
        corrected_total=2,
        finetune_s=10.0,
        finetune_iters=5,
        heldout_confusion=confusion_matrix(PRED, TRUTH, 3),
    )
    r1 = make_round(
        1, [count_corrections(TRUTH, TRUTH)], 3, finetune_s=12.5, finetune_iters=6, heldout_confusion=perfect
    )
    # round 0: 2 + 4 wrong of 10 labelled pixels
    assert (r0.pixels_to_correct, r0.pixels_labelled, r0.share_to_correct) == (6, 10, pytest.approx(0.6))
    assert r0.heldout_pixel_acc == pytest.approx(0.6)
    assert r1.heldout_miou == pytest.approx(1.0)
    s = summarise([r0, r1], baseline_miou=0.1)
    assert s["manual_share"] == 1.0
    assert s["needs_after_round"] == {"0": 0.0}
    assert s["overall_share_to_correct"] == pytest.approx(6 / 15)
    assert s["total_finetune_s"] == pytest.approx(22.5)
    json.dumps(s)  # the bench prints it
    png = tmp_path / "loop.png"
    plot_summary(s, png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_bench_runs_end_to_end_on_real_camvid(tmp_path, camvid_root) -> None:
    """The whole loop at toy size: rounds of two images, 3 fine-tune iterations each, two held out."""
    import argparse

    from danet_core.bench import assist

    parser = argparse.ArgumentParser()
    assist.add_arguments(parser)
    args = parser.parse_args(
        ["--data", str(camvid_root), "--rounds", "2", "--per-round", "2", "--batch", "2",
         "--iters-per-round", "3", "--heldout", "2", "--scale", "0.25", "--crop", "64",
         "--work-dir", str(tmp_path / "w")]
    )  # fmt: skip
    out = assist.run(args)
    assert [r["images"] for r in out["rounds"]] == [2, 2]
    assert [r["corrected_total"] for r in out["rounds"]] == [2, 4]
    assert all(r["finetune_iters"] >= 1 for r in out["rounds"])
    assert 0.0 <= out["rounds"][0]["share_to_correct"] <= 1.0
    assert (tmp_path / "w" / "assist_loop.png").is_file()
    assert len(list((tmp_path / "w" / "data" / "trainannot").glob("*.png"))) == 4
