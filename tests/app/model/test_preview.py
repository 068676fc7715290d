"""The preview's scale decision (a FLOP budget), the merge of the full result and the canvas notes."""

from __future__ import annotations

import numpy as np
import pytest

from app.model import preview
from app.model.preview import PREVIEW_GFLOP_BUDGET, edited_pixels, merge_full_result, plan_preview
from app.model.view_hints import full_result_note, preview_note


def r50_gflop(h: int, w: int) -> float:
    """DANet-R50 in GFLOP: convs grow with the pixels, PAM with their square (fitted to the measured
    4436 GFLOP at 1024 x 2048 and 205 GFLOP at 256 x 512)."""
    pixels = h * w
    return 1.5273e-3 * pixels + 1.1485e-6 * (pixels / 64) ** 2


class Counting:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, h: int, w: int) -> float:
        self.calls.append((h, w))
        return r50_gflop(h, w)


def test_the_model_fit_matches_the_measured_counts() -> None:
    assert r50_gflop(1024, 2048) == pytest.approx(4436, rel=0.01)
    assert r50_gflop(256, 512) == pytest.approx(205, rel=0.01)
    assert r50_gflop(205, 410) == pytest.approx(134, rel=0.05)


def test_a_cityscapes_frame_with_r50_previews_at_the_largest_scale_within_the_budget() -> None:
    count = Counting()
    plan = plan_preview(1024, 2048, count)
    assert plan is not None and plan.denominator == 6 and plan.label == "1/6 scale"
    assert plan.gflop <= PREVIEW_GFLOP_BUDGET < r50_gflop(205, 410)  # 1/5 would be over it
    assert plan.full_gflop == pytest.approx(4436, rel=0.01)
    assert len(count.calls) <= 4  # each count is ~0.2 s: a few at most (and cached by the predictor)
    assert plan.full_seconds(2.0) == pytest.approx(2.0 * plan.full_gflop / plan.gflop)


def test_a_smaller_budget_gives_a_smaller_scale() -> None:
    big = plan_preview(1024, 2048, r50_gflop, budget=200)
    small = plan_preview(1024, 2048, r50_gflop, budget=40)
    assert big is not None and small is not None and big.denominator < 6 < small.denominator


def test_no_preview_when_the_full_forward_is_cheap_or_on_a_gpu() -> None:
    assert plan_preview(256, 512, r50_gflop) is None  # 205 GFLOP <= 2 x budget: predicted once
    assert plan_preview(1024, 2048, r50_gflop, on_gpu=True) is None
    assert plan_preview(1024, 2048, r50_gflop, budget=0) is None


def test_no_preview_when_even_the_smallest_one_is_over_the_budget() -> None:
    assert plan_preview(8000, 16000, r50_gflop) is None  # 1/16 is still 500 x 1000


def test_a_model_trained_at_reduced_scale_previews_below_its_own_scale() -> None:
    plan = plan_preview(1024, 2048, r50_gflop, input_scale=0.5)
    assert plan is not None and plan.scale < 0.5
    assert plan.full_gflop == pytest.approx(r50_gflop(512, 1024))  # its full result is at 0.5
    assert plan.denominator == 6  # the same budget, the same absolute preview size
    # at 1/4 the full forward is cheap enough: no preview
    assert plan_preview(1024, 2048, r50_gflop, input_scale=0.25) is None


def test_the_budget_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preview, "PREVIEW_GFLOP_BUDGET", 5.0)
    plan = plan_preview(256, 512, r50_gflop)
    assert plan is not None and plan.gflop <= 5.0 and plan.denominator == 7


def test_the_merge_keeps_edited_pixels_and_takes_the_full_result_elsewhere() -> None:
    rng = np.random.default_rng(0)
    prev = rng.integers(0, 5, (40, 60), dtype=np.uint8)
    full = rng.integers(0, 5, (40, 60), dtype=np.uint8)
    mask = prev.copy()
    mask[10:20, 5:15] = 9  # the user's stroke
    mask[30, 50] = 255  # an erased pixel
    edit = merge_full_result(mask, prev, full)
    assert edit is not None
    merged = mask.copy()
    merged[edit.y0 : edit.y0 + edit.height, edit.x0 : edit.x0 + edit.width] = edit.after
    edited = mask != prev
    np.testing.assert_array_equal(merged[edited], mask[edited])
    np.testing.assert_array_equal(merged[~edited], full[~edited])
    assert edited_pixels(mask, prev) == 101
    # one undo step: its "before" is the mask as the user left it
    restored = merged.copy()
    restored[edit.y0 : edit.y0 + edit.height, edit.x0 : edit.x0 + edit.width] = edit.before
    np.testing.assert_array_equal(restored, mask)


def test_an_undone_stroke_is_no_edit_and_an_equal_full_result_changes_nothing() -> None:
    prev = np.zeros((8, 8), np.uint8)
    full = np.ones((8, 8), np.uint8)
    edit = merge_full_result(prev.copy(), prev, full)  # edits undone: the mask is the preview again
    assert edit is not None and edit.changed_pixels() == 64
    assert merge_full_result(full.copy(), prev, full) is None
    with pytest.raises(ValueError, match="shapes differ"):
        merge_full_result(prev, prev, np.zeros((4, 4), np.uint8))


def test_canvas_notes_say_which_result_is_shown() -> None:
    assert preview_note("1/6 scale", 42.3) == (
        "Preview (1/6 scale) — full result in about 42 s … You can start correcting."
    )
    assert "any moment" in preview_note("1/6 scale", 0.4)
    assert "follows" in preview_note("1/6 scale", None)
    assert full_result_note(0) == "Full resolution"
    assert "kept (12 px)" in full_result_note(12) and "Ctrl+Z" in full_result_note(12)
