"""Live training curves (QtCharts): loss terms per iteration and validation mIoU.

Fed one metrics record at a time (the engine's ``metrics.jsonl`` objects): ``"type": "train"`` records
add a point to every numeric ``loss*`` key (``loss`` = the weighted total, ``loss_out``/``loss_pam``/
``loss_cam``/``loss_aux`` the terms), ``"type": "val"`` records add a point to the mIoU series. Series are
created on first sight of a key so the chart shows exactly the terms the configured model has.
"""

from __future__ import annotations

import math

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QVBoxLayout, QWidget


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class _Chart(QChartView):
    def __init__(self, title: str, y_label: str, parent: QWidget | None = None) -> None:
        chart = QChart()
        chart.setTitle(title)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(200)
        self.x_axis = QValueAxis()
        self.x_axis.setTitleText("iteration")
        self.x_axis.setLabelFormat("%d")
        self.y_axis = QValueAxis()
        self.y_axis.setTitleText(y_label)
        chart.addAxis(self.x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(self.y_axis, Qt.AlignmentFlag.AlignLeft)
        self.series: dict[str, QLineSeries] = {}
        self._x_max = 1.0
        self._y_min = math.inf
        self._y_max = -math.inf

    def add_point(self, name: str, x: float, y: float) -> None:
        series = self.series.get(name)
        if series is None:
            series = QLineSeries()
            series.setName(name)
            self.chart().addSeries(series)
            series.attachAxis(self.x_axis)
            series.attachAxis(self.y_axis)
            self.series[name] = series
        series.append(x, y)
        self._x_max = max(self._x_max, x)
        self._y_min = min(self._y_min, y)
        self._y_max = max(self._y_max, y)
        self.x_axis.setRange(0, self._x_max)
        pad = max(1e-3, 0.05 * (self._y_max - self._y_min))
        self.y_axis.setRange(min(0.0, self._y_min), self._y_max + pad)

    def clear(self) -> None:
        self.chart().removeAllSeries()
        self.series.clear()
        self._x_max, self._y_min, self._y_max = 1.0, math.inf, -math.inf


class TrainingCurves(QWidget):
    """Two charts stacked: training losses and validation mIoU."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loss_chart = _Chart("Training loss", "loss")
        self.miou_chart = _Chart("Validation mIoU (held-out reviewed images)", "mIoU")
        self.miou_chart.y_axis.setLabelFormat("%.2f")
        self.miou_chart.x_axis.setTitleVisible(False)  # the loss chart above names the shared axis
        self.miou_chart.chart().legend().setVisible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.loss_chart, 3)
        layout.addWidget(self.miou_chart, 2)

    def add_record(self, record: dict) -> None:
        x = _number(record.get("iter"))
        if x is None:
            return
        kind = record.get("type")
        if kind == "train":
            for key, value in record.items():
                y = _number(value)
                if key.startswith("loss") and y is not None:
                    self.loss_chart.add_point(key, x, y)
        elif kind == "val":
            y = _number(record.get("miou", record.get("mIoU")))
            if y is not None:
                self.miou_chart.add_point("val mIoU", x, y)

    def clear(self) -> None:
        self.loss_chart.clear()
        self.miou_chart.clear()

    def point_counts(self) -> dict[str, int]:
        """Points per series name (for tests and the status line)."""
        out = {k: s.count() for k, s in self.loss_chart.series.items()}
        out.update({k: s.count() for k, s in self.miou_chart.series.items()})
        return out
