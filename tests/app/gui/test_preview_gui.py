"""The quick preview in the window (issue 12): an opened image shows a reduced-scale preview first, the
user corrects it, and the full result arriving later keeps the edited pixels and changes the others;
the canvas says which one is shown. Tiny random-weight DANet on real CamVid frames at 160 x 120, the
FLOP budget lowered so that such a small forward gets a preview."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.model.edit_ops import paint, rect_region
from danet_core.project import Project

pytestmark = pytest.mark.gui


@pytest.fixture
def held_full(monkeypatch, tiny_checkpoint):
    """The budget of a 1/2-scale preview of a 120 x 160 frame, and a gate holding every full prediction."""
    import app.workers.inference as inference
    from app.model import preview
    from danet_core.checkpoints import load_model
    from danet_core.models.flops import count_forward_flops

    full = count_forward_flops(load_model(tiny_checkpoint).config, 120, 160).total / 1e9
    monkeypatch.setattr(preview, "PREVIEW_GFLOP_BUDGET", full / 3)  # 1/2 scale is ~full/4
    gate = threading.Event()
    real = inference.predict_and_store

    def held(*args, **kwargs):
        gate.wait(60)
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "predict_and_store", held)
    yield gate
    gate.set()


def test_edit_the_preview_then_the_full_result_keeps_the_edits(qtbot, window, project_with_model, held_full):
    session, pre, canvas = window.controller("session"), window.controller("presegment"), window.canvas
    with qtbot.waitSignal(pre.preview_ready, timeout=60_000) as blocker:
        session.open_project(project_with_model)
    result = blocker.args[0]
    image_id = session.image_id
    assert result.image_id == image_id and result.preview.label == "1/2 scale"
    assert session.preview is result and session.document.revision == 0
    np.testing.assert_array_equal(session.document.mask, result.label)
    note = canvas.prediction_note_text()
    assert note is not None and note.startswith("Preview (1/2 scale) — full result")
    with Project.open(project_with_model) as p:
        assert not p.record(image_id).has_prediction  # a preview is never stored
    assert pre.shown_result(image_id) is result  # the heatmaps follow the preview
    window.heatmap_panel.set_kind("confidence")
    np.testing.assert_array_equal(session.confidence, result.confidence)

    # the user corrects the preview: a rectangle of class 7
    doc = session.document
    edit = paint(doc.mask, rect_region(doc.mask.shape, (20, 10), (70, 50)), 7)
    canvas.push_edit(edit, "Rectangle", applied=False)
    edited = doc.mask != result.label
    assert edited.any() and (doc.mask[edited] == 7).all()
    before_full = doc.mask.copy()

    with qtbot.waitSignal(pre.prediction_ready, timeout=60_000):
        held_full.set()
    with Project.open(project_with_model) as p:
        full, _ = p.load_prediction(image_id)
    assert session.document is doc and session.preview is None  # merged, not restarted
    np.testing.assert_array_equal(doc.mask[edited], before_full[edited])  # the user's pixels kept
    np.testing.assert_array_equal(doc.mask[~edited], full[~edited])  # the others: the full result
    assert (full != result.label)[~edited].any()  # ... which did change them
    assert canvas.prediction_note_text().startswith("Full resolution — your edits were kept")
    assert pre.shown_result(image_id) is not result

    # one undo step back to the edited preview; Accept prediction takes the full result everywhere
    canvas.undo_stack.undo()
    np.testing.assert_array_equal(doc.mask, before_full)
    canvas.undo_stack.redo()
    assert canvas.accept_prediction()
    np.testing.assert_array_equal(doc.mask, full)


def test_an_untouched_preview_is_replaced_and_a_switch_drops_it(qtbot, window, project_with_model, held_full):
    session, pre, canvas = window.controller("session"), window.controller("presegment"), window.canvas
    with qtbot.waitSignal(pre.preview_ready, timeout=60_000):
        session.open_project(project_with_model)
    first = session.image_id
    with qtbot.waitSignal(pre.prediction_ready, timeout=60_000):
        held_full.set()
    with Project.open(project_with_model) as p:
        full, _ = p.load_prediction(first)
    np.testing.assert_array_equal(session.document.mask, full)
    assert session.document.revision == 0 and canvas.prediction_note_text() == "Full resolution"
    # the next image was prefetched (no preview); one without a prediction previews on opening
    ids = window.image_list.visible_ids()
    qtbot.waitUntil(lambda: not pre.queue.is_busy(), timeout=60_000)
    held_full.clear()
    target = next(i for i in ids if pre.needs_prediction(i))
    with qtbot.waitSignal(pre.preview_ready, timeout=60_000):
        session.open_image(target)
    assert session.preview is not None and canvas.prediction_note_text().startswith("Preview")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_image(first)  # away before the full result: the preview and its note go
    assert session.preview is None and canvas.prediction_note_text() is None
    held_full.set()
    qtbot.waitUntil(lambda: not pre.needs_prediction(target), timeout=60_000)  # still stored
    assert session.image_id == first
