"""The annotation document of one image: the class mask being edited, its prediction, and change events.

Qt-free on purpose: the canvas, the undo stack and the autosave controller all talk to this object, and
its behaviour (apply/revert of rectangle edits, revision counting, "pixels changed from the prediction")
is tested without a GUI. Undo commands (app.widgets.undo) hold :class:`MaskEdit` payloads and call
:meth:`AnnotationDocument.apply` / :meth:`AnnotationDocument.revert`.

Decisions:
- The mask is validated on entry: a value that is neither a class index of the label set nor the
  ignore index (255) is refused with a :class:`DocumentError` naming the value, so a corrupt or foreign
  mask is never silently painted over.
- ``pixels_changed_from_prediction()`` counts pixels whose value differs from the mapped prediction
  (``lut[label]``, the mask the model proposed); it is None when the image has no prediction.
- ``revision`` increases on every apply or revert (also on undo), so autosave can compare it with the
  revision it last saved (:meth:`mark_saved`, :attr:`is_modified`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np

from app.model.edit_ops import MaskEdit, pick, prediction_edit

logger = logging.getLogger(__name__)

__all__ = ["AnnotationDocument", "DocumentError", "MaskEdit", "starting_mask", "restarts_from_prediction"]

# Called with the changed rectangle (x, y, width, height) after every apply/revert.
ChangeListener = Callable[[int, int, int, int], None]


class DocumentError(ValueError):
    """A mask or prediction that does not fit the document (wrong dtype, shape or class values)."""


def _split_prediction(prediction: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Accept a label array, a ``(label, confidence)`` pair (project.load_prediction) or an object
    with ``label``/``confidence`` attributes (danet_core.inference.Prediction)."""
    if prediction is None:
        return None, None
    if isinstance(prediction, np.ndarray):
        return prediction, None
    if isinstance(prediction, tuple) and len(prediction) == 2:
        return prediction[0], prediction[1]
    if hasattr(prediction, "label"):
        return prediction.label, getattr(prediction, "confidence", None)
    raise DocumentError(
        f"prediction of type {type(prediction).__name__}: expected a label array, a (label, confidence) "
        "pair or a Prediction"
    )


def starting_mask(
    saved: np.ndarray | None, prediction: np.ndarray | None, shape: tuple[int, int], ignore_index: int
) -> np.ndarray:
    """The mask an image opens with: its saved mask, else (a copy of) its cached prediction — the point
    of pre-segmentation — else all unlabeled. Opening writes nothing, so an untouched image stays
    "pre-segmented"."""
    if saved is not None:
        return saved
    if prediction is not None:
        return prediction.copy()
    return np.full(shape, ignore_index, dtype=np.uint8)


def restarts_from_prediction(revision: int, has_saved_mask: bool) -> bool:
    """Whether a prediction arriving for the open image replaces its mask: only when the user has
    neither edited it (revision 0) nor saved a mask for it; otherwise the user's mask is kept."""
    return revision == 0 and not has_saved_mask


class AnnotationDocument:
    """The editable class mask of one image (``uint8`` H x W label-set indices, 255 = unlabeled).

    ``prediction`` (optional) is the model output for the image: model class ids (H x W uint8), with
    an optional float32 H x W confidence. ``prediction_lut`` maps model ids to mask indices; it
    defaults to ``label_set.lut_from_train_ids()`` (Cityscapes train ids -> label ids, identity for
    CamVid/VOC).
    """

    def __init__(
        self,
        mask: np.ndarray,
        label_set: Any,
        prediction: Any = None,
        *,
        prediction_lut: np.ndarray | None = None,
    ) -> None:
        mask = np.asarray(mask)
        if mask.ndim != 2 or mask.dtype != np.uint8:
            raise DocumentError(f"mask must be a uint8 H x W array; got {mask.dtype} with shape {mask.shape}")
        self.label_set = label_set
        self._check_values(mask)
        self._mask = np.ascontiguousarray(mask).copy()
        label, confidence = _split_prediction(prediction)
        for name, arr in (("prediction", label), ("confidence", confidence)):
            if arr is not None and np.asarray(arr).shape != mask.shape:
                raise DocumentError(
                    f"{name} shape {np.asarray(arr).shape} differs from the mask shape {mask.shape}"
                )
        if label is not None and np.asarray(label).dtype != np.uint8:
            raise DocumentError(f"prediction labels must be uint8 model class ids; got {label.dtype}")
        self.prediction: np.ndarray | None = None if label is None else np.asarray(label)
        self.confidence: np.ndarray | None = None if confidence is None else np.asarray(confidence)
        self._prediction_lut = prediction_lut
        self.revision = 0
        self._saved_revision = 0
        self._listeners: list[ChangeListener] = []

    @classmethod
    def empty(cls, height: int, width: int, label_set: Any, prediction: Any = None) -> AnnotationDocument:
        """A fully unlabeled document (a new image)."""
        return cls(np.full((height, width), 255, dtype=np.uint8), label_set, prediction)

    def _check_values(self, mask: np.ndarray) -> None:
        ignore = self.ignore_index
        allowed = np.zeros(256, dtype=bool)
        allowed[[int(c.index) for c in self.label_set.classes]] = True
        allowed[ignore] = True
        ok = allowed[mask]  # a 1-byte lookup per pixel: cheap even on 8000 x 6000
        if ok.all():
            return
        bad = [int(v) for v in np.unique(mask[~ok])]
        raise DocumentError(
            f"mask contains value(s) {bad[:8]} that are not class indices of label set "
            f"{getattr(self.label_set, 'name', '?')!r} nor {ignore} (unlabeled)"
        )

    # --- state -----------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """The live mask (read it, do not write it: edits go through :meth:`apply`)."""
        return self._mask

    @property
    def shape(self) -> tuple[int, int]:
        return int(self._mask.shape[0]), int(self._mask.shape[1])

    @property
    def height(self) -> int:
        return self.shape[0]

    @property
    def width(self) -> int:
        return self.shape[1]

    @property
    def ignore_index(self) -> int:
        """The value of unlabeled pixels (what the eraser writes)."""
        return int(getattr(self.label_set, "ignore_index", 255))

    @property
    def has_prediction(self) -> bool:
        return self.prediction is not None

    @property
    def prediction_lut(self) -> np.ndarray:
        if self._prediction_lut is None:
            self._prediction_lut = np.asarray(self.label_set.lut_from_train_ids(), dtype=np.uint8)
        return self._prediction_lut

    @property
    def is_modified(self) -> bool:
        return self.revision != self._saved_revision

    def mark_saved(self, revision: int | None = None) -> None:
        """Record that ``revision`` (default: the current one) is on disk."""
        self._saved_revision = self.revision if revision is None else revision

    def label_at(self, x: float, y: float) -> int | None:
        """Mask value under image point (x, y); None outside."""
        return pick(self._mask, x, y)

    def add_listener(self, fn: ChangeListener) -> None:
        self._listeners.append(fn)

    def remove_listener(self, fn: ChangeListener) -> None:
        if fn in self._listeners:
            self._listeners.remove(fn)

    # --- edits -----------------------------------------------------------------------------------
    def _write(self, edit: MaskEdit, values: np.ndarray) -> None:
        h, w = values.shape
        if edit.y0 < 0 or edit.x0 < 0 or edit.y0 + h > self.height or edit.x0 + w > self.width:
            raise DocumentError(f"edit rectangle {edit.rect} is outside the {self.width}x{self.height} mask")
        self._mask[edit.y0 : edit.y0 + h, edit.x0 : edit.x0 + w] = values
        self.revision += 1
        for fn in list(self._listeners):
            fn(edit.x0, edit.y0, w, h)

    def apply(self, edit: MaskEdit) -> None:
        """Write ``edit.after`` into its rectangle and notify listeners."""
        self._write(edit, edit.after)

    def revert(self, edit: MaskEdit) -> None:
        """Write ``edit.before`` back into its rectangle and notify listeners."""
        self._write(edit, edit.before)

    def apply_live(self, edit: MaskEdit) -> None:
        """Apply a partial edit during a gesture (a brush dab): same as :meth:`apply`; kept as a name so
        that callers make clear the edit is also recorded for one merged undo step."""
        self.apply(edit)

    # --- prediction ------------------------------------------------------------------------------
    def mapped_prediction(self, lut: np.ndarray | None = None) -> np.ndarray | None:
        """The prediction as a mask (``lut[label]``), or None without a prediction."""
        if self.prediction is None:
            return None
        return (self.prediction_lut if lut is None else np.asarray(lut, dtype=np.uint8))[self.prediction]

    def replace_prediction(self, label: np.ndarray, confidence: np.ndarray | None = None) -> None:
        """A newer prediction of this image (the full result after a quick preview); the mask is not
        touched (merging it is an undoable edit, ``app.model.preview.merge_full_result``)."""
        label = np.asarray(label)
        if label.shape != self._mask.shape or label.dtype != np.uint8:
            raise DocumentError(f"prediction {label.dtype} {label.shape}; expected uint8 {self._mask.shape}")
        if confidence is not None and np.asarray(confidence).shape != self._mask.shape:
            raise DocumentError(f"confidence shape {np.asarray(confidence).shape} differs from the mask")
        self.prediction = label
        self.confidence = None if confidence is None else np.asarray(confidence)

    def pixels_changed_from_prediction(self) -> int | None:
        """How many pixels differ from the mapped prediction; None when there is no prediction."""
        proposed = self.mapped_prediction()
        if proposed is None:
            return None
        return int(np.count_nonzero(proposed != self._mask))

    def prediction_edit(
        self, lut: np.ndarray | None = None, *, min_confidence: float | None = None
    ) -> MaskEdit | None:
        """The edit that makes the mask equal to the mapped prediction (not applied)."""
        if self.prediction is None:
            raise DocumentError("this image has no prediction to accept")
        if lut is not None:
            self._prediction_lut = np.asarray(lut, dtype=np.uint8)
        edit = prediction_edit(
            self._mask,
            self.prediction,
            self.prediction_lut,
            confidence=self.confidence,
            min_confidence=min_confidence,
        )
        return edit

    def accept_prediction(
        self, lut: np.ndarray | None = None, *, min_confidence: float | None = None
    ) -> MaskEdit | None:
        """Replace the mask by the mapped prediction; returns the applied edit (None if nothing changed)
        so the caller can record it for undo."""
        edit = self.prediction_edit(lut, min_confidence=min_confidence)
        if edit is not None:
            self.apply(edit)
            logger.debug("accepted prediction: %d pixels changed", edit.changed_pixels())
        return edit
