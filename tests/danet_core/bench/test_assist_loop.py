"""The assist-loop bookkeeping on a tiny hand-made case (no model, no data)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from danet_core.bench.assist_loop import (
    Finetune,
    apply_corrections,
    count_corrections,
    count_regions,
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


def test_error_regions_by_hand() -> None:
    """Regions of wrong pixels >= 64 px, 8-connected: diagonal neighbours join, void separates."""
    truth = np.zeros((80, 80), dtype=np.uint8)
    pred = truth.copy()
    pred[0:8, 70:78] = 1  # 64 px: one region, exactly at the threshold
    pred[70:77, 70:79] = 2  # 63 px: below it
    idx = np.arange(64)
    pred[idx + 10, idx] = 3  # a diagonal line of 64 px: one region with 8-connectivity (64 with 4)
    assert count_regions(pred != truth) == 2
    assert count_corrections(pred, truth).regions == 2
    assert count_corrections(pred, truth, min_region=63).regions == 3
    assert count_regions(np.zeros((4, 4), dtype=bool)) == 0
    # a void column through a 9 x 8 wrong block leaves two wrong parts (32 + 32 px): neither counts
    block = np.zeros_like(truth)
    block[0:8, 0:9] = 1
    assert count_corrections(block, truth).regions == 1
    truth_void = truth.copy()
    truth_void[:, 4] = V
    assert count_corrections(block, truth_void).regions == 0


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
        finetune=Finetune(seconds=10.0, iterations=5, lr=0.01),
        heldout_confusion=confusion_matrix(PRED, TRUTH, 3),
        class_names=["road", "sky", "car"],
    )
    r1 = make_round(
        1, [count_corrections(TRUTH, TRUTH)], 3, finetune=Finetune(12.5, 6, 0.005), heldout_confusion=perfect
    )
    r2 = make_round(2, [count_corrections(PRED, TRUTH)], 4, finetune=Finetune(), heldout_confusion=perfect)
    # round 0: 2 + 4 wrong of 10 labelled pixels
    assert (r0.pixels_to_correct, r0.pixels_labelled, r0.share_to_correct) == (6, 10, pytest.approx(0.6))
    assert r0.heldout_pixel_acc == pytest.approx(0.6)
    assert r0.heldout_share_to_correct == pytest.approx(0.4)
    # per-class IoU named from the label set (the hand-computed values of test_confusion_and_miou_by_hand)
    assert r0.heldout_iou == pytest.approx({"road": 0.5, "sky": 1 / 3, "car": 0.5})
    assert r0.error_regions == 0  # 2 + 4 wrong pixels, no region of 64
    assert r1.heldout_miou == pytest.approx(1.0)
    assert r1.heldout_share_to_correct == 0.0
    assert r1.heldout_iou == {"0": 1.0, "1": 1.0, "2": 1.0}
    assert r1.finetune_lr == 0.005
    s = summarise([r0, r1, r2], baseline_miou=0.1)
    assert s["manual_share"] == 1.0
    assert s["needs_after_round"] == {"0": 0.0, "1": pytest.approx(0.4)}
    assert s["error_regions_after_round"] == {"0": 0, "1": 0}
    # round 2 skipped its fine-tune (0 iterations): its held-out model is round 1's, not a new figure
    assert s["heldout_needs_after_round"] == {"0": pytest.approx(0.4), "1": 0.0}
    assert s["overall_share_to_correct"] == pytest.approx(8 / 20)
    assert s["total_finetune_s"] == pytest.approx(22.5)
    assert s["total_finetune_iters"] == 11
    with pytest.raises(ValueError, match="2 class names for a 3-class"):
        make_round(0, [], 0, finetune=Finetune(), heldout_confusion=perfect, class_names=["a", "b"])
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
         "--work-dir", str(tmp_path / "w"), "--class-weights", "0.5", "--schedule", "poly",
         "--lr-round-decay", "0.5", "--skip-last-finetune", "--threads", "1"]
    )  # fmt: skip
    out = assist.run(args)
    assert [r["images"] for r in out["rounds"]] == [2, 2]
    assert [r["corrected_total"] for r in out["rounds"]] == [2, 4]
    assert out["rounds"][0]["finetune_iters"] == 3 and out["rounds"][0]["finetune_it_per_s"] > 0
    assert out["rounds"][1]["finetune_iters"] == 0  # skipped: held-out figures are round 0's model's
    assert out["rounds"][1]["heldout_miou"] == out["rounds"][0]["heldout_miou"]
    assert list(out["heldout_needs_after_round"]) == ["0"]
    assert list(out["rounds"][0]["heldout_iou"])[:2] == ["Sky", "Building"]  # the camvid label set
    assert out["settings"]["class_weights"] == 0.5
    assert 0.0 <= out["rounds"][0]["share_to_correct"] <= 1.0
    assert (tmp_path / "w" / "assist_loop.png").is_file()
    val = sorted(p.name for p in (camvid_root / "val").glob("*.png"))
    assert assist.heldout_names(camvid_root, 3) == [val[0], val[(len(val) - 1) // 2], val[-1]]
    assert assist.heldout_names(camvid_root, 10_000) == val
    assert len(list((tmp_path / "w" / "data" / "trainannot").glob("*.png"))) == 4
