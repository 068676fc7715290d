"""Model in the loop, with a tiny random-weight DANet on real (downscaled) CamVid images: the inference
worker delivers an overlay, heatmaps and the attention of a clicked pixel, a batch can be cancelled,
reload_model re-pre-segments, and the GUI thread is never the one predicting."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from danet_core.project import ImageStatus, Project

pytestmark = pytest.mark.gui


def _open_with_model(qtbot, window, project_dir) -> None:
    session, pre = window.controller("session"), window.controller("presegment")
    with qtbot.waitSignal(pre.prediction_ready, timeout=60_000):
        session.open_project(project_dir)
    qtbot.waitUntil(lambda: session.confidence is not None, timeout=10_000)


def test_inference_worker_delivers_an_overlay_off_the_gui_thread(
    qtbot, window, project_with_model, monkeypatch
):
    import app.workers.inference as inference

    threads: list[str] = []
    real = inference.predict_and_store

    def spy(*args, **kwargs):
        threads.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(inference, "predict_and_store", spy)
    _open_with_model(qtbot, window, project_with_model)
    session, pre = window.controller("session"), window.controller("presegment")
    assert threads and threading.main_thread().name not in threads
    assert pre.model_version is not None and "mapped by train id" in window.model_label.text()
    image_id = session.image_id
    doc = session.document
    assert doc.has_prediction
    # the untouched image starts from the prediction, and the overlay shows it
    with Project.open(project_with_model) as p:
        label, conf = p.load_prediction(image_id)
        rec = p.record(image_id)
    assert rec.status == ImageStatus.PRESEGMENTED and rec.model_version == pre.model_version
    assert rec.uncertainty is not None and 0.0 <= rec.uncertainty <= 1.0
    np.testing.assert_array_equal(doc.mask, label)
    overlay = window.canvas.overlay_pixels()
    assert overlay is not None and overlay[..., 3].max() > 0  # painted, not transparent
    assert conf.shape == (120, 160) and 0.0 < float(conf.mean()) <= 1.0
    # the status bar reports class and confidence under the cursor
    session._on_cursor(10, 10)
    assert window.cursor_info.confidence.text().startswith("confidence")
    # prefetch predicted the next image too
    nxt = window.image_list.visible_ids()[1]
    qtbot.waitUntil(lambda: not pre.needs_prediction(nxt), timeout=60_000)


def test_heatmaps_and_attention_of_a_clicked_pixel(qtbot, window, project_with_model):
    _open_with_model(qtbot, window, project_with_model)
    heat, canvas, panel = window.controller("heatmaps"), window.canvas, window.heatmap_panel
    shown: list[object] = []
    original = canvas.set_heatmap

    def record(values, **kwargs):
        shown.append(values)
        original(values, **kwargs)

    canvas.set_heatmap = record
    panel.set_kind("confidence")
    assert shown[-1] is not None and shown[-1].shape == (120, 160)
    panel.set_kind("entropy")
    qtbot.waitUntil(lambda: shown[-1] is not None, timeout=30_000)
    assert 0.0 <= float(shown[-1].min()) and float(shown[-1].max()) <= 1.0
    # attention: choosing it arms the attention tool; a click on the canvas computes the PAM row
    panel.set_kind("attention")
    assert canvas.tool() == "attention"
    pos = canvas.mapFromScene(QPointF(52.5, 44.5))
    qtbot.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.waitUntil(lambda: heat.attention is not None, timeout=30_000)
    values = heat.attention[1]
    assert values.shape == (120, 160) and values.dtype == np.float32
    from app.model.render import attention_heatmap

    pre, rgb = window.controller("presegment"), window.controller("session").rgb
    expected = attention_heatmap(pre.predictor.pam_row(rgb, (44, 52)), 120, 160)
    np.testing.assert_allclose(values, expected, atol=1e-5)  # the clicked pixel's row, upsampled
    assert 0.9 < float(values.max()) <= 1.0  # scaled to its maximum (bilinear may miss the peak)
    assert shown[-1] is values
    # CAM view: computed when its dock is shown
    window.docks["cam"].show()
    heat.set_cam_visible(True)
    qtbot.waitUntil(lambda: window.cam_view.matrix is not None, timeout=30_000)
    m = window.cam_view.matrix
    assert m.shape[0] == m.shape[1] and np.allclose(m.sum(axis=1), 1.0, atol=1e-3)


def test_cancel_a_presegment_all_batch(qtbot, window, project_with_model, messages):
    session, pre = window.controller("session"), window.controller("presegment")
    _open_with_model(qtbot, window, project_with_model)
    pre.queue.wait_idle()
    qtbot.waitUntil(lambda: not pre.queue.is_busy(), timeout=60_000)
    with Project.open(project_with_model) as p:
        p.invalidate_predictions()
    with qtbot.waitSignal(pre.batch_finished, timeout=60_000) as blocker:
        summary = pre.start_batch()
        assert summary is not None and summary.total == 4
        assert window.jobs.isVisible()
        window.jobs.cancel_button.click()
    result = blocker.args[0]
    assert result.cancelled and result.done < result.total
    assert not window.jobs.isVisible()
    assert session.project is not None  # the app carries on


def test_batch_failures_are_summarised_once(qtbot, window, project_with_model, camvid_small, messages):
    pre = window.controller("presegment")
    _open_with_model(qtbot, window, project_with_model)
    qtbot.waitUntil(lambda: not pre.queue.is_busy(), timeout=60_000)
    ids = window.image_list.visible_ids()
    broken = camvid_small / window.image_list.model.record(ids[3]).rel_path
    broken.write_bytes(b"\x89PNG truncated")
    with qtbot.waitSignal(pre.batch_finished, timeout=120_000) as blocker:
        pre.start_batch(ids[2:])
    summary = blocker.args[0]
    assert summary.done == 2 and [i for i, _ in summary.failed] == [ids[3]]
    assert broken.name in summary.failed[0][1]
    boxes = [m for m in messages if m[0] == "Pre-segmentation"]
    assert len(boxes) == 1 and "1 failed" in boxes[0][1]


def test_reload_model_invalidates_unreviewed_and_presegments_again(
    qtbot, window, project_with_model, tiny_checkpoint
):
    session, pre = window.controller("session"), window.controller("presegment")
    _open_with_model(qtbot, window, project_with_model)
    first = session.image_id
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.mark_reviewed_and_next()
    qtbot.waitUntil(lambda: not pre.queue.is_busy(), timeout=60_000)
    with Project.open(project_with_model) as p:
        version = p.add_model_version(tiny_checkpoint, metrics={"finetuned": True})
        p.set_active_model(version.id)
    with qtbot.waitSignal(pre.batch_finished, timeout=120_000):
        pre.reload_model()
    assert pre.model_version == version.id
    with Project.open(project_with_model) as p:
        recs = {r.id: r for r in p.images()}
    assert recs[first].status == ImageStatus.REVIEWED
    assert all(r.model_version == version.id for i, r in recs.items() if i != first)
