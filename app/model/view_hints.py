"""What the canvas and its panels say, and two small view rules: Qt-free so that the wording, the rounding
and the rules are unit-tested without a window.

Why these texts exist (each one answers a defect a new user hit):
- :func:`lock_banner`: "paint only over" makes strokes on other classes do nothing, so while it is set the
  canvas says so in a banner (the lock is kept across images of the project; see the README).
- :func:`replace_hint`: the replace tool's source class A is implicit (the lock, or the class under the
  first point), so the canvas names "A -> B" before and while the user drags.
- :func:`hotkey_classes`: number keys always mean the N-th class of the label set in palette order,
  whatever the palette's search shows, so muscle memory never paints the wrong class.
- :func:`cam_value_text`: a CAM row is a softmax; most entries underflow to exactly 0 in float32, which
  read as a broken lookup. The text says so and gives the share of the row's maximum.
- :func:`preview_note` / :func:`full_result_note`: a quick preview looks like a finished
  pre-segmentation, so the canvas says which one is shown, when the full result should come, and what
  happened to the user's edits when it came (``app.model.preview``).
- :class:`AutoFit`: the image is fitted to the window until the user zooms; a resize re-fits it then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from danet_core.labels import LabelClass, LabelSet

HOTKEYS: tuple[str, ...] = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0")
# float32's smallest positive (subnormal) value: a softmax entry below it is stored as exactly 0
FLOAT32_TINY = 1.4e-45


def palette_order(label_set: LabelSet) -> list[LabelClass]:
    """Classes in palette order: evaluated classes first (label-set order), then those ignored in
    evaluation, so the hotkeys 1..9, 0 reach the classes people actually paint."""
    return sorted(label_set.classes, key=lambda c: bool(getattr(c, "ignore_in_eval", False)))


def hotkey_classes(label_set: LabelSet) -> dict[str, int]:
    """Number key -> class index: the 1st..10th class in palette order. Independent of any search."""
    return {key: int(c.index) for key, c in zip(HOTKEYS, palette_order(label_set), strict=False)}


def hotkey_label(position: int, name: str) -> str:
    """A palette row: its fixed number key (first ten rows) and the class name, aligned."""
    return f"{HOTKEYS[position]}  {name}" if position < len(HOTKEYS) else f"    {name}"


def class_name(label_set: LabelSet | None, index: int) -> str:
    """A mask value as the user knows it: the class name, "unlabeled", or "index N" for a stray value."""
    if label_set is None:
        return f"class {index}"
    if index == label_set.ignore_index:
        return "unlabeled"
    try:
        return label_set.by_index(index).name
    except KeyError:
        return f"index {index}"


def lock_banner(label_set: LabelSet | None, lock: int | None) -> str | None:
    """The canvas banner while "paint only over" is set; None when edits may change every pixel."""
    if lock is None:
        return None
    unlabeled = label_set is not None and lock == label_set.ignore_index
    what = "unlabeled pixels" if unlabeled else class_name(label_set, lock)
    return f"Painting only over {what} — Esc or click here to clear"


def replace_hint(label_set: LabelSet | None, source: int | None, target: int, *, locked: bool) -> str:
    """The replace tool's hint: which class A becomes the current class B, and how to give the region."""
    b = class_name(label_set, target)
    if source is None:
        return f"Replace: the class under the first point becomes {b}"
    a = class_name(label_set, source)
    if source == target:
        return f"Replace: {a} is already the current class; pick the class to paint first"
    lock = " (paint-only-over class)" if locked else ""
    return f"Replace {a}{lock} → {b}: drag a rectangle, or click polygon vertices"


def zoom_text(zoom: float) -> str:
    """Zoom as a percentage: whole percents from 10 %, one decimal below (a fitted 8000-px image);
    "zoom –" without an image (zoom 0)."""
    if zoom <= 0:
        return "zoom –"
    pct = zoom * 100.0
    return f"zoom {pct:.0f} %" if pct >= 9.95 else f"zoom {pct:.1f} %"


def cam_value_text(value: float, row_max: float) -> str:
    """One CAM entry for the hover line: the value (small ones in scientific notation) and its share of
    its row's maximum; an exact 0 is explained (a float32 underflow, not a missing value)."""
    if value == 0.0:
        return f"0 (below float32's {FLOAT32_TINY:.1e}: this input channel is not used)"
    text = f"{value:.4f}" if value >= 1e-3 else f"{value:.3e}"
    if row_max <= 0.0:
        return text
    share = 100.0 * value / row_max
    shown = "< 0.1" if share < 0.1 else f"{share:.3g}"
    return f"{text} ({shown} % of the row maximum)"


def image_row_text(rel_path: str, status: str, uncertainty: float | None, order: str) -> str:
    """An image-list row: name and status; in uncertainty order also the score the list is sorted by."""
    text = f"{rel_path}\n{status}"
    if order != "uncertainty":
        return text
    score = "no score yet" if uncertainty is None else f"uncertainty {uncertainty:.3f}"
    return f"{text} · {score}"


def preview_note(scale_label: str, remaining_s: float | None) -> str:
    """The canvas note while a preview is shown: its scale and when the full result should arrive."""
    if remaining_s is None:
        when = "full result follows …"
    elif remaining_s >= 1.5:
        when = f"full result in about {remaining_s:.0f} s …"
    else:
        when = "full result any moment …"
    return f"Preview ({scale_label}) — {when} You can start correcting."


def full_result_note(kept_pixels: int) -> str:
    """The canvas note when the full result replaced a preview (shown for a few seconds)."""
    if kept_pixels <= 0:
        return "Full resolution"
    return (
        f"Full resolution — your edits were kept ({kept_pixels} px). "
        "Ctrl+Z: back to the preview; Shift+A: take the full result everywhere"
    )


class AutoFit:
    """Whether the canvas keeps the whole image fitted to the window.

    Opening an image (or Fit, Ctrl+0) fits it and keeps it fitted through window resizes; a zoom by the
    user (wheel, zoom keys, actual size) ends that until the next fit, so a resize never undoes it.
    """

    def __init__(self) -> None:
        self.active = True

    def fitted(self) -> None:
        self.active = True

    def zoomed(self) -> None:
        self.active = False

    def refit_on_resize(self) -> bool:
        return self.active
