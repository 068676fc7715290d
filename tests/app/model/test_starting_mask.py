"""The mask an image opens with, and when an arriving prediction may replace it."""

from __future__ import annotations

import numpy as np

from app.model.document import restarts_from_prediction, starting_mask


def test_saved_mask_then_prediction_then_unlabeled() -> None:
    saved = np.full((2, 3), 4, np.uint8)
    pred = np.full((2, 3), 7, np.uint8)
    assert starting_mask(saved, pred, (2, 3), 255) is saved
    from_pred = starting_mask(None, pred, (2, 3), 255)
    assert (from_pred == 7).all() and from_pred is not pred  # a copy: editing never changes the cache
    empty = starting_mask(None, None, (2, 3), 255)
    assert empty.dtype == np.uint8 and empty.shape == (2, 3) and (empty == 255).all()


def test_a_prediction_replaces_only_an_untouched_unsaved_mask() -> None:
    assert restarts_from_prediction(0, False)
    assert not restarts_from_prediction(1, False)  # edited
    assert not restarts_from_prediction(0, True)  # a saved mask exists
