"""Pure numpy painting and hit-testing on class masks (no Qt): the geometry behind every canvas tool.

Every tool is split in two steps so that each is testable alone:

1. a *region* (:class:`Region`: an origin plus a boolean footprint, cropped to the image) says which
   pixels the gesture covers: a round brush segment, a polygon, a rectangle, a flood-filled connected
   area;
2. :func:`paint` turns a region into a :class:`MaskEdit` (the changed rectangle only, before and
   after), honouring the "paint only over class X" lock. Replacing class A with B inside a region is
   painting B with the lock on A, so it needs no separate code path.

Coordinates are image pixels as floats, x to the right and y down; pixel (i, j) covers
``[i, i+1) x [j, j+1)`` so its centre is ``(i + 0.5, j + 0.5)`` (the QGraphicsScene convention of the
canvas). Masks are ``uint8`` H x W arrays of label-set indices, 255 = unlabeled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

UNLABELED = 255

Point = tuple[float, float]


@dataclass(frozen=True, eq=False)
class MaskEdit:
    """One undoable change of a mask: the values of the changed rectangle before and after.

    ``before`` and ``after`` are ``uint8`` h x w arrays placed at row ``y0``, column ``x0``; storing
    only this rectangle (not the full mask) is what keeps an unlimited undo history small.
    """

    y0: int
    x0: int
    before: np.ndarray
    after: np.ndarray

    def __post_init__(self) -> None:
        if self.before.shape != self.after.shape or self.before.ndim != 2:
            raise ValueError(
                f"MaskEdit: before {self.before.shape} and after {self.after.shape} must be equal 2-D shapes"
            )

    @property
    def height(self) -> int:
        return int(self.before.shape[0])

    @property
    def width(self) -> int:
        return int(self.before.shape[1])

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the changed rectangle in image pixels."""
        return self.x0, self.y0, self.width, self.height

    @property
    def nbytes(self) -> int:
        return int(self.before.nbytes + self.after.nbytes)

    def changed_pixels(self) -> int:
        return int(np.count_nonzero(self.before != self.after))


@dataclass(frozen=True, eq=False)
class Region:
    """Pixels covered by a gesture: ``inside`` (bool h x w) placed at row ``y0``, column ``x0``."""

    y0: int
    x0: int
    inside: np.ndarray = field(repr=False)

    @property
    def slices(self) -> tuple[slice, slice]:
        h, w = self.inside.shape
        return slice(self.y0, self.y0 + h), slice(self.x0, self.x0 + w)


def _check_mask(mask: np.ndarray) -> None:
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"mask must be a uint8 H x W array; got {mask.dtype} with shape {mask.shape}")


def _clip_box(shape: tuple[int, ...], x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int] | None:
    """Clip the half-open box [x0, x1) x [y0, y1) to the image; None when nothing is left."""
    h, w = shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x0 >= x1 or y0 >= y1:
        return None
    return x0, y0, x1, y1


def snap_brush_center(x: float, y: float, size: int) -> Point:
    """Centre of a ``size``-pixel brush under the point (x, y).

    Odd sizes centre on the pixel under the point, even sizes on the nearest pixel corner, so that a
    dab always covers the same footprint of exactly ``size`` pixels across (as in GIMP/Photoshop
    pixel brushes) wherever inside a pixel the cursor is.
    """
    if size % 2:
        return float(np.floor(x)) + 0.5, float(np.floor(y)) + 0.5
    return float(np.round(x)), float(np.round(y))


def segment_region(shape: tuple[int, ...], p0: Point, p1: Point, size: int) -> Region | None:
    """Round brush of diameter ``size`` swept from ``p0`` to ``p1`` (a dab when p0 == p1).

    A pixel is covered when its centre is within ``size / 2`` of the segment (a capsule), so fast mouse
    moves leave no gaps. Only the bounding box of the capsule is computed: cost grows with the brush
    and the stroke length, never with the image.
    """
    if size < 1:
        raise ValueError(f"brush size must be >= 1 pixel; got {size}")
    ax, ay = snap_brush_center(*p0, size)
    bx, by = snap_brush_center(*p1, size)
    r = size / 2.0
    box = _clip_box(
        shape,
        int(np.floor(min(ax, bx) - r)),
        int(np.floor(min(ay, by) - r)),
        int(np.ceil(max(ax, bx) + r)),
        int(np.ceil(max(ay, by) + r)),
    )
    if box is None:
        return None
    x0, y0, x1, y1 = box
    px = np.arange(x0, x1, dtype=np.float32) + 0.5 - ax
    py = (np.arange(y0, y1, dtype=np.float32) + 0.5 - ay)[:, None]
    dx, dy = bx - ax, by - ay
    seg_len2 = dx * dx + dy * dy
    if seg_len2 == 0.0:
        dist2 = px * px + py * py
    else:
        # projection of each pixel centre on the segment, clamped to its ends
        t = np.clip((px * dx + py * dy) / seg_len2, 0.0, 1.0)
        ex, ey = px - t * dx, py - t * dy
        dist2 = ex * ex + ey * ey
    inside = dist2 <= r * r + 1e-6
    if not inside.any():
        return None
    return Region(y0, x0, inside)


def polygon_region(shape: tuple[int, ...], points: Sequence[Point]) -> Region | None:
    """Pixels whose centres lie inside the polygon (vertices in image coordinates, even-odd rule).

    Fewer than 3 vertices enclose nothing (None). Scanline rasterisation of the pixel centres inside
    the polygon's bounding box only: for every row the edge crossings toggle "inside" from the first
    pixel centre to their right, so a polygon through pixel corners (1,1)-(5,1)-(5,4)-(1,4) covers
    exactly the 4 x 3 pixels it encloses.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) < 3:
        return None
    box = _clip_box(
        shape,
        int(np.floor(pts[:, 0].min())),
        int(np.floor(pts[:, 1].min())),
        int(np.ceil(pts[:, 0].max())),
        int(np.ceil(pts[:, 1].max())),
    )
    if box is None:
        return None
    x0, y0, x1, y1 = box
    w = x1 - x0
    ax, ay = pts[:, 0], pts[:, 1]
    bx, by = np.roll(ax, -1), np.roll(ay, -1)
    yc = (np.arange(y0, y1, dtype=np.float64) + 0.5)[:, None]  # rows x 1
    # half-open rule on y so a vertex exactly on a scanline is counted once
    crosses = ((ay <= yc) & (yc < by)) | ((by <= yc) & (yc < ay))
    with np.errstate(divide="ignore", invalid="ignore"):
        xc = ax + (yc - ay) * (bx - ax) / (by - ay)
    rows, edges = np.nonzero(crosses)
    # first pixel (local column) whose centre is right of the crossing
    first = np.clip(np.ceil(xc[rows, edges] - x0 - 0.5), 0, w).astype(np.intp)
    toggles = np.zeros((y1 - y0, w + 1), dtype=np.int32)
    np.add.at(toggles, (rows, first), 1)
    inside = (np.cumsum(toggles[:, :w], axis=1) % 2).astype(bool)
    if not inside.any():
        return None
    return Region(y0, x0, inside)


def rect_region(shape: tuple[int, ...], p0: Point, p1: Point) -> Region | None:
    """Pixels whose centres lie in the rectangle spanned by two corner points (any order)."""
    xa, xb = sorted((p0[0], p1[0]))
    ya, yb = sorted((p0[1], p1[1]))
    # centre i + 0.5 in [xa, xb]  <=>  i in [ceil(xa - 0.5), floor(xb - 0.5)]
    box = _clip_box(
        shape,
        int(np.ceil(xa - 0.5)),
        int(np.ceil(ya - 0.5)),
        int(np.floor(xb - 0.5)) + 1,
        int(np.floor(yb - 0.5)) + 1,
    )
    if box is None:
        return None
    x0, y0, x1, y1 = box
    return Region(y0, x0, np.ones((y1 - y0, x1 - x0), dtype=bool))


def flood_region(mask: np.ndarray, x: int, y: int, *, connectivity: int = 4) -> Region | None:
    """The connected area of equal class containing pixel (x, y) (4- or 8-connected).

    Uses ``cv2.floodFill`` in mask-only mode, so the mask itself is never touched here; the region is
    cropped to the filled bounding rectangle that OpenCV reports.
    """
    _check_mask(mask)
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8; got {connectivity}")
    h, w = mask.shape
    if not (0 <= x < w and 0 <= y < h):
        return None
    fill = np.zeros((h + 2, w + 2), dtype=np.uint8)
    flags = connectivity | (1 << 8) | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE
    src = np.ascontiguousarray(mask)
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(src, fill, (int(x), int(y)), 0, 0, 0, flags)
    inside = fill[1 + ry : 1 + ry + rh, 1 + rx : 1 + rx + rw].astype(bool)
    return Region(int(ry), int(rx), inside)


def crop_to_change(y0: int, x0: int, before: np.ndarray, after: np.ndarray) -> MaskEdit | None:
    """A :class:`MaskEdit` cropped to the bounding box of the pixels that differ; None if none do.

    Both payloads are copies: ``before`` is usually a view of the live mask, which the edit overwrites.
    """
    diff = before != after
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    ya, yb, xa, xb = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return MaskEdit(
        int(y0 + ya),
        int(x0 + xa),
        before[ya:yb, xa:xb].copy(),
        after[ya:yb, xa:xb].copy(),
    )


def paint(mask: np.ndarray, region: Region | None, value: int, *, lock: int | None = None) -> MaskEdit | None:
    """The edit that sets ``value`` on the region's pixels; the mask is not modified.

    ``lock``: when not None only pixels currently equal to ``lock`` change ("paint only over class X";
    ``lock=255`` paints only into unlabeled pixels). Erasing is painting 255; replacing class A with B
    inside a region is ``paint(mask, region, B, lock=A)``. Returns None when no pixel would change.
    """
    _check_mask(mask)
    if not 0 <= int(value) <= 255:
        raise ValueError(f"class value {value} is outside 0..255")
    if region is None:
        return None
    before = mask[region.slices]
    where = region.inside if lock is None else region.inside & (before == lock)
    after = before.copy()
    after[where] = value
    return crop_to_change(region.y0, region.x0, before, after)


def pick(mask: np.ndarray, x: float, y: float) -> int | None:
    """Eyedropper: the mask value under image point (x, y), or None outside the image."""
    _check_mask(mask)
    i, j = int(np.floor(x)), int(np.floor(y))
    h, w = mask.shape
    if not (0 <= i < w and 0 <= j < h):
        return None
    return int(mask[j, i])


def prediction_edit(
    mask: np.ndarray,
    label: np.ndarray,
    lut: np.ndarray,
    *,
    confidence: np.ndarray | None = None,
    min_confidence: float | None = None,
) -> MaskEdit | None:
    """The edit that replaces the mask by the mapped prediction ``lut[label]``.

    ``label`` holds model class ids (H x W), ``lut`` (uint8[256]) maps them to mask indices (255 =
    leave unlabeled). With ``min_confidence``, pixels whose confidence is below it become unlabeled,
    so a labeler starts from the confident part only.
    """
    _check_mask(mask)
    if label.shape != mask.shape:
        raise ValueError(f"prediction shape {label.shape} differs from the mask shape {mask.shape}")
    lut = np.asarray(lut)
    if lut.shape != (256,) or lut.dtype != np.uint8:
        raise ValueError(f"lut must be a uint8 array of 256 entries; got {lut.dtype} {lut.shape}")
    new = lut[label]
    if min_confidence is not None:
        if confidence is None or confidence.shape != mask.shape:
            raise ValueError("min_confidence needs a confidence map of the mask's shape")
        new[confidence < min_confidence] = UNLABELED
    return crop_to_change(0, 0, mask, new)


class StrokeRecorder:
    """Merges the dabs of one stroke into a single :class:`MaskEdit` (one undo step per stroke).

    Each dab is applied to the mask as it happens (the user sees it); the recorder keeps the dab
    edits and, at the end, rebuilds the "before" of their union rectangle by undoing them in reverse
    order on a copy of the current values, so no full-mask snapshot is ever taken.
    """

    def __init__(self) -> None:
        self._edits: list[MaskEdit] = []

    def __len__(self) -> int:
        return len(self._edits)

    def add(self, edit: MaskEdit | None) -> None:
        if edit is not None:
            self._edits.append(edit)

    def merged(self, mask: np.ndarray) -> MaskEdit | None:
        """The stroke as one edit, given the mask *after* all recorded dabs were applied."""
        if not self._edits:
            return None
        y0 = min(e.y0 for e in self._edits)
        x0 = min(e.x0 for e in self._edits)
        y1 = max(e.y0 + e.height for e in self._edits)
        x1 = max(e.x0 + e.width for e in self._edits)
        after = mask[y0:y1, x0:x1].copy()
        before = after.copy()
        for e in reversed(self._edits):
            before[e.y0 - y0 : e.y0 - y0 + e.height, e.x0 - x0 : e.x0 - x0 + e.width] = e.before
        return crop_to_change(y0, x0, before, after)
