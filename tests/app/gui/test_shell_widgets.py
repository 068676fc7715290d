"""Shell widgets on their own: heatmap legend/kinds, CAM view, job indicator, cursor info, settings dialog."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.settings import AppSettings
from app.widgets.cam_view import CamView
from app.widgets.dialogs import SettingsDialog
from app.widgets.heatmap_panel import HEATMAP_KINDS, HeatmapPanel
from app.widgets.status_bar import CursorInfo, JobIndicator

pytestmark = pytest.mark.gui


def test_heatmap_panel_kinds_legend_and_signals(qtbot):
    panel = HeatmapPanel(opacity=0.4)
    qtbot.addWidget(panel)
    kinds: list[str] = []
    panel.kind_changed.connect(kinds.append)
    assert panel.kind() == "off" and panel.opacity_value() == pytest.approx(0.4)
    panel.set_kind("entropy")
    assert kinds == ["entropy"] and "uniform" in panel.high_label.text()
    panel.cycle()
    assert panel.kind() == list(HEATMAP_KINDS)[3]
    with qtbot.waitSignal(panel.opacity_changed) as blocker:
        panel.opacity.setValue(75)
    assert blocker.args == [0.75]
    with pytest.raises(ValueError, match="unknown heatmap kind"):
        panel.set_kind("nope")
    legend = panel.legend_bar.pixmap().toImage()
    left, right = legend.pixelColor(0, 5), legend.pixelColor(legend.width() - 1, 5)
    assert left.lightness() < 20 and right.lightness() > 180  # inferno: black -> pale yellow


def test_cam_view_shows_a_square_matrix_and_rejects_others(qtbot):
    view = CamView()
    qtbot.addWidget(view)
    m = np.random.default_rng(0).random((16, 16)).astype(np.float32)
    view.set_matrix(m)
    assert view.image.width() == 16 and "16 x 16" in view.info.text()
    with pytest.raises(ValueError, match="C x C"):
        view.set_matrix(np.zeros((3, 4)))
    view.set_matrix(None, reason="no model")
    assert view.image is None and view.info.text() == "no model"


def test_job_indicator_and_cursor_info(qtbot):
    jobs = JobIndicator()
    qtbot.addWidget(jobs)
    jobs.show()
    jobs.start("presegment", "Pre-segmenting 10 images", 10)
    jobs.update_progress("presegment", 4, 10, "4/10")
    assert jobs.isVisible() and jobs.bar.value() == 4 and jobs.label.text() == "4/10"
    # a second job at the same time: shown on top; stopping it shows the first one again
    jobs.start("export", "Exporting", 100)
    assert jobs.label.text() == "Exporting (+1 more)"
    with qtbot.waitSignal(jobs.cancel_requested) as blocker:
        jobs.cancel_button.click()
    assert blocker.args == ["export"]
    jobs.stop("export")
    assert jobs.isVisible() and jobs.label.text() == "4/10" and jobs.bar.value() == 4
    jobs.update_progress("export", 50, 100)  # late signal of a stopped job: ignored
    assert jobs.running() == ["presegment"]
    jobs.stop("presegment")
    assert not jobs.isVisible()
    info = CursorInfo()
    qtbot.addWidget(info)
    info.show_pixel(12, 34, "Road", 0.875)
    assert (info.position.text(), info.klass.text(), info.confidence.text()) == (
        "x 12, y 34",
        "Road",
        "confidence 88%",
    )
    info.show_zoom(1.5625)
    info.show_pixel(-1, -1, None, None)
    assert info.klass.text() == "" and info.zoom.text() == "zoom 156 %"  # the zoom stays


def test_settings_dialog_returns_validated_settings(qtbot, monkeypatch):
    dialog = SettingsDialog(AppSettings(), ["cpu", "cuda:0"])
    qtbot.addWidget(dialog)
    dialog.precision.setCurrentText("bf16")
    dialog.mode.setCurrentIndex(1)
    dialog.crop.setValue(512)
    dialog.stride.setValue(384)
    dialog.device.setCurrentText("cuda:0")
    values = dialog.values()
    assert (values.precision, values.mode, values.crop, values.stride, values.device) == (
        "bf16",
        "slide",
        512,
        384,
        "cuda:0",
    )
    warnings: list[str] = []
    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(lambda *a: warnings.append(a[2])))
    dialog.stride.setValue(600)  # larger than the crop
    dialog._accept()
    assert dialog.result_settings is None and "stride 600" in warnings[0]
