"""AnnotationDocument: validation, apply/revert, listeners, revision, prediction statistics."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.document import AnnotationDocument, DocumentError
from app.model.edit_ops import MaskEdit, paint, rect_region
from danet_core.labels import get_label_set


@pytest.fixture
def camvid():
    return get_label_set("camvid")


def test_rejects_values_outside_the_label_set(camvid) -> None:
    mask = np.full((4, 4), 255, np.uint8)
    mask[0, 0] = 42
    with pytest.raises(DocumentError, match=r"\[42\].*camvid"):
        AnnotationDocument(mask, camvid)
    with pytest.raises(DocumentError, match="uint8 H x W"):
        AnnotationDocument(np.zeros((4, 4), np.int64), camvid)
    with pytest.raises(DocumentError, match="prediction shape"):
        AnnotationDocument(np.zeros((4, 4), np.uint8), camvid, np.zeros((3, 4), np.uint8))


def test_document_copies_the_mask_and_reports_changes(camvid) -> None:
    source = np.full((10, 12), 255, np.uint8)
    doc = AnnotationDocument(source, camvid)
    seen: list[tuple[int, int, int, int]] = []
    doc.add_listener(lambda *r: seen.append(r))
    edit = paint(doc.mask, rect_region(doc.shape, (2, 3), (6, 5)), 4)
    doc.apply(edit)
    assert (doc.mask[3:5, 2:6] == 4).all() and (source == 255).all()
    assert seen == [(2, 3, 4, 2)] and doc.revision == 1 and doc.is_modified
    doc.mark_saved()
    assert not doc.is_modified
    doc.revert(edit)
    assert (doc.mask == 255).all() and doc.revision == 2 and doc.is_modified
    with pytest.raises(DocumentError, match="outside"):
        doc.apply(MaskEdit(9, 11, np.zeros((2, 2), np.uint8), np.ones((2, 2), np.uint8)))


def test_prediction_accept_and_pixels_changed(camvid) -> None:
    label = np.zeros((6, 8), np.uint8)  # model class ids (CamVid: train id == index)
    label[3:, :] = 3
    conf = np.ones((6, 8), np.float32)
    doc = AnnotationDocument(np.full((6, 8), 255, np.uint8), camvid, (label, conf))
    assert doc.has_prediction and doc.pixels_changed_from_prediction() == 48
    edit = doc.accept_prediction()
    assert edit is not None and np.array_equal(doc.mask, label)
    assert doc.pixels_changed_from_prediction() == 0
    doc.apply(paint(doc.mask, rect_region(doc.shape, (0, 0), (2, 2)), 5))
    assert doc.pixels_changed_from_prediction() == 4
    assert doc.accept_prediction() is not None and doc.pixels_changed_from_prediction() == 0
    assert doc.accept_prediction() is None  # already equal: no empty undo step
    plain = AnnotationDocument(np.zeros((2, 2), np.uint8), camvid)
    assert plain.pixels_changed_from_prediction() is None
    with pytest.raises(DocumentError, match="no prediction"):
        plain.accept_prediction()


def test_cityscapes_prediction_maps_train_ids_to_label_ids() -> None:
    cs = get_label_set("cityscapes")
    label = np.array([[0, 13], [10, 254]], np.uint8)  # road, car, sky, out of range
    doc = AnnotationDocument(np.full((2, 2), 255, np.uint8), cs, label)
    doc.accept_prediction()
    assert doc.mask.tolist() == [[7, 26], [23, 255]]


def test_low_confidence_pixels_stay_unlabeled(camvid) -> None:
    label = np.full((2, 3), 2, np.uint8)
    conf = np.array([[0.9, 0.2, 0.8], [0.1, 0.95, 0.5]], np.float32)
    doc = AnnotationDocument.empty(2, 3, camvid, prediction=(label, conf))
    doc.accept_prediction(min_confidence=0.5)
    assert doc.mask.tolist() == [[2, 255, 2], [255, 2, 2]]
