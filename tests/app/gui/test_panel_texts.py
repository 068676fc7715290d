"""What the side panels say (issue 10): the uncertainty in the sorted image list, CAM hover values, and
fine-tune curves whose labels are not elided to "..." in a narrow dock."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.widgets.cam_view import CamView
from app.widgets.finetune_curves import TrainingCurves
from app.widgets.image_list import ImageListPanel
from tests.app.gui.gui_helpers import chart_texts
from tests.app.model.fake_records import Rec

pytestmark = pytest.mark.gui


def test_the_list_sorted_by_uncertainty_shows_the_score(qtbot) -> None:
    panel = ImageListPanel()
    qtbot.addWidget(panel)
    panel.set_records([Rec(1, "a.png", uncertainty=0.25), Rec(2, "b.png", uncertainty=0.75), Rec(3, "c.png")])

    def rows() -> list[str]:
        return [panel.model.index(r).data(Qt.ItemDataRole.DisplayRole) for r in range(panel.model.rowCount())]

    assert rows()[0] == "a.png\nPre-segmented"
    panel.set_order("uncertainty")
    assert rows() == [
        "b.png\nPre-segmented · uncertainty 0.750",
        "a.png\nPre-segmented · uncertainty 0.250",
        "c.png\nPre-segmented · no score yet",
    ]


def test_cam_hover_shows_small_and_zero_values(qtbot) -> None:
    view = CamView()
    qtbot.addWidget(view)
    view.resize(240, 300)
    view.show()
    qtbot.waitExposed(view)
    m = np.zeros((4, 4), np.float32)
    m[1] = [0.0, 1e-6, 0.5, 0.25]
    m[2, 3] = 1.0
    view.set_matrix(m)
    x0, y0, side = view.canvas._square()

    def hover(i: int, j: int) -> str:
        pos = QPoint(int(x0 + (j + 0.5) * side / 4), int(y0 + (i + 0.5) * side / 4))
        QTest.mouseMove(view.canvas, pos)
        QApplication.processEvents()
        return view.info.text()

    assert hover(1, 1) == "output channel 1 ← input channel 1: 1.000e-06 (< 0.1 % of the row maximum)"
    assert hover(1, 3) == "output channel 1 ← input channel 3: 0.2500 (50 % of the row maximum)"
    assert hover(2, 3).endswith(": 1.0000 (100 % of the row maximum)")  # row 2, column 3: not swapped
    assert "float32" in hover(1, 0)


@pytest.mark.parametrize("size", [(264, 410), (230, 360)])
def test_curve_labels_fit_a_narrow_dock(qtbot, size) -> None:
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(*size)
    curves.show()
    for i in range(0, 400, 20):
        terms = {"loss": 2.5 - i / 200, "loss_out": 1.2, "loss_pam": 0.6, "loss_cam": 0.5, "loss_aux": 0.7}
        curves.add_record({"type": "train", "iter": i, **terms})
        if i % 100 == 0:
            curves.add_record({"type": "val", "iter": i, "miou": 0.1 + i / 1000})
    QTest.qWait(50)
    loss, miou = chart_texts(curves.loss_chart), chart_texts(curves.miou_chart)
    assert {"total", "out", "pam", "cam", "aux", "380", "Training loss per iteration"} <= set(loss)
    assert {"0.42", "300", "Validation mIoU"} <= set(miou)
    assert not [t for t in loss + miou if "..." in t or "…" in t]
