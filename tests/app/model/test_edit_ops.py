"""Pure painting and hit-testing helpers (no Qt): exact pixel footprints, locks, merged strokes."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.edit_ops import (
    MaskEdit,
    StrokeRecorder,
    crop_to_change,
    flood_region,
    paint,
    pick,
    polygon_region,
    prediction_edit,
    rect_region,
    segment_region,
    snap_brush_center,
)


def apply(mask: np.ndarray, edit: MaskEdit | None) -> np.ndarray:
    out = mask.copy()
    if edit is not None:
        out[edit.y0 : edit.y0 + edit.height, edit.x0 : edit.x0 + edit.width] = edit.after
    return out


def full(region, shape) -> np.ndarray:
    out = np.zeros(shape, dtype=bool)
    if region is not None:
        out[region.slices] = region.inside
    return out


def test_dab_footprint_is_a_disc_of_the_brush_diameter() -> None:
    shape = (40, 40)
    for size in (1, 2, 3, 7, 10):
        covered = full(segment_region(shape, (20.3, 20.7), (20.3, 20.7), size), shape)
        rows = np.flatnonzero(covered.any(axis=1))
        cols = np.flatnonzero(covered.any(axis=0))
        assert len(rows) == size and len(cols) == size, size
        # disc: centre pixels within size/2 of the snapped centre, nothing else
        cx, cy = snap_brush_center(20.3, 20.7, size)
        yy, xx = np.mgrid[0:40, 0:40] + 0.5
        expected = (xx - cx) ** 2 + (yy - cy) ** 2 <= (size / 2) ** 2 + 1e-6
        assert np.array_equal(covered, expected)
    assert full(segment_region(shape, (5.9, 5.1), (5.9, 5.1), 1), shape).sum() == 1
    assert full(segment_region(shape, (5.9, 5.1), (5.9, 5.1), 1), shape)[5, 5]


def test_segment_leaves_no_gaps_and_clips_to_image() -> None:
    shape = (20, 100)
    covered = full(segment_region(shape, (2.5, 10.5), (97.5, 10.5), 3), shape)
    assert covered[9:12, 1:99].all()
    assert covered.sum() == 3 * 98  # a 3 px disc is a full 3x3 block, so the caps add one column each
    # a stroke running off the image is cut at the border, never wraps
    edge = full(segment_region(shape, (-10.0, 0.5), (3.5, 0.5), 5), shape)
    assert edge[:, :6].any() and not edge[:, 7:].any()
    assert segment_region(shape, (-50.0, -50.0), (-40.0, -40.0), 5) is None
    with pytest.raises(ValueError, match="brush size"):
        segment_region(shape, (1, 1), (1, 1), 0)


def test_paint_respects_lock_and_returns_only_changed_rectangle() -> None:
    mask = np.full((10, 10), 255, np.uint8)
    mask[:, 5:] = 2
    region = rect_region(mask.shape, (0, 0), (10, 10))
    edit = paint(mask, region, 7, lock=2)
    out = apply(mask, edit)
    assert (out[:, 5:] == 7).all() and (out[:, :5] == 255).all()
    assert edit.rect == (5, 0, 5, 10)
    # lock on unlabeled fills only unlabeled pixels
    out2 = apply(mask, paint(mask, region, 1, lock=255))
    assert (out2[:, :5] == 1).all() and (out2[:, 5:] == 2).all()
    # nothing to change -> None (no empty undo step)
    assert paint(mask, region, 3, lock=9) is None
    assert paint(out, rect_region(mask.shape, (5, 0), (10, 10)), 7) is None


def test_eraser_is_paint_255_and_replace_is_paint_with_lock() -> None:
    mask = np.zeros((6, 6), np.uint8)
    mask[2:4, 2:4] = 3
    erased = apply(mask, paint(mask, rect_region(mask.shape, (0, 0), (3, 3)), 255))
    assert (erased[:3, :3] == 255).all() and erased[3, 3] == 3
    replaced = apply(mask, paint(mask, rect_region(mask.shape, (0, 0), (6, 3)), 5, lock=3))
    assert (replaced[2, 2:4] == 5).all() and (replaced[3, 2:4] == 3).all()
    assert (replaced[replaced != 5] != 5).all() and (replaced == 0).sum() == 32


def test_polygon_covers_pixel_centres_inside() -> None:
    shape = (10, 10)
    sq = full(polygon_region(shape, [(1, 1), (5, 1), (5, 4), (1, 4)]), shape)
    expected = np.zeros(shape, bool)
    expected[1:4, 1:5] = True
    assert np.array_equal(sq, expected)
    tri = full(polygon_region(shape, [(0, 0), (10, 0), (0, 10)]), shape)
    yy, xx = np.mgrid[0:10, 0:10] + 0.5
    assert np.array_equal(tri, xx + yy < 10)
    # concave "U": the notch stays empty
    u = full(polygon_region(shape, [(0, 0), (3, 0), (3, 6), (6, 6), (6, 0), (9, 0), (9, 9), (0, 9)]), shape)
    assert not u[0:6, 3:6].any() and u[7, 4] and u[2, 1] and u[2, 7]
    assert polygon_region(shape, [(0, 0), (5, 5)]) is None
    assert full(polygon_region(shape, [(-5, -5), (20, -5), (20, 20), (-5, 20)]), shape).all()


def test_rect_region_any_corner_order() -> None:
    shape = (8, 8)
    a = full(rect_region(shape, (6.2, 5.9), (1.1, 2.0)), shape)
    expected = np.zeros(shape, bool)
    expected[2:6, 1:6] = True
    assert np.array_equal(a, expected)
    assert rect_region(shape, (20, 20), (30, 30)) is None


def test_flood_fill_takes_one_connected_region() -> None:
    mask = np.full((8, 8), 1, np.uint8)
    mask[:, 4] = 2  # a wall splits class 1 into two parts
    mask[0, 0] = 3
    left = full(flood_region(mask, 1, 1), mask.shape)
    assert left[:, :4].sum() == 31 and not left[:, 4:].any() and not left[0, 0]
    out = apply(mask, paint(mask, flood_region(mask, 6, 6), 9))
    assert (out[:, 5:] == 9).all() and (out[:, :4] != 9).all()
    # diagonal neighbours only join with 8-connectivity
    diag = np.eye(5, dtype=np.uint8)
    assert full(flood_region(diag, 0, 0), diag.shape).sum() == 1
    assert full(flood_region(diag, 0, 0, connectivity=8), diag.shape).sum() == 5
    assert flood_region(mask, 50, 1) is None
    # the mask itself is not touched by the hit-test
    assert mask[1, 1] == 1


def test_pick_and_prediction_edit() -> None:
    mask = np.full((4, 5), 255, np.uint8)
    mask[1, 3] = 6
    assert pick(mask, 3.9, 1.2) == 6 and pick(mask, 0, 0) == 255 and pick(mask, 5.0, 0) is None
    label = np.zeros((4, 5), np.uint8)
    label[2:, :] = 1
    lut = np.full(256, 255, np.uint8)
    lut[0], lut[1] = 7, 8
    out = apply(mask, prediction_edit(mask, label, lut))
    assert np.array_equal(out, lut[label])
    conf = np.full((4, 5), 0.9, np.float32)
    conf[0, 0] = 0.1
    partial = apply(mask, prediction_edit(mask, label, lut, confidence=conf, min_confidence=0.5))
    assert partial[0, 0] == 255 and partial[0, 1] == 7
    with pytest.raises(ValueError, match="prediction shape"):
        prediction_edit(mask, label[:2], lut)


def test_stroke_recorder_merges_overlapping_dabs_into_one_exact_edit() -> None:
    rng = np.random.default_rng(0)
    mask = rng.integers(0, 3, (30, 40)).astype(np.uint8)
    original = mask.copy()
    rec = StrokeRecorder()
    points = [(5.0, 5.0), (12.0, 8.0), (20.0, 20.0), (22.0, 21.0), (35.0, 28.0)]
    for p0, p1 in zip(points[:-1], points[1:], strict=True):
        edit = paint(mask, segment_region(mask.shape, p0, p1, 6), 9)
        rec.add(edit)
        mask = apply(mask, edit)
    merged = rec.merged(mask)
    assert merged is not None and len(rec) == 4
    # the merged edit turns the original into the final mask and back, over its rectangle only
    restored = mask.copy()
    restored[merged.y0 : merged.y0 + merged.height, merged.x0 : merged.x0 + merged.width] = merged.before
    assert np.array_equal(restored, original)
    assert np.array_equal(apply(original, merged), mask)
    assert merged.nbytes < 2 * mask.nbytes
    assert StrokeRecorder().merged(mask) is None


def test_crop_to_change_and_maskedit_validation() -> None:
    before = np.zeros((5, 5), np.uint8)
    after = before.copy()
    after[2, 3] = 1
    edit = crop_to_change(10, 20, before, after)
    assert edit.rect == (23, 12, 1, 1) and edit.changed_pixels() == 1
    assert crop_to_change(0, 0, before, before) is None
    # payloads never alias the live mask (a full-width edit would otherwise lose its "before")
    whole = crop_to_change(0, 0, before, np.ones_like(before))
    before[:] = 7
    assert (whole.before == 0).all()
    with pytest.raises(ValueError, match="equal 2-D shapes"):
        MaskEdit(0, 0, before, after[:2])
    with pytest.raises(ValueError, match="uint8 H x W"):
        paint(before.astype(np.int32), rect_region((5, 5), (0, 0), (2, 2)), 1)
