"""Live training curves (QtCharts): loss terms per iteration and validation mIoU.

Fed one metrics record at a time (the engine's ``metrics.jsonl`` objects): ``"type": "train"`` records
add a point to every numeric ``loss*`` key (``loss`` = the weighted total, ``loss_out``/``loss_pam``/
``loss_cam``/``loss_aux`` the terms), ``"type": "val"`` records add a point to the mIoU series. Series are
created on first sight of a key so the chart shows exactly the terms the configured model has.

Why compact: the panel lives in a ~260-px-wide dock at 1366 x 768, where QtCharts' defaults (margins,
axis titles, 5 ticks of "%.6g", legend names like "loss_pam") left no room and every label was elided
to "...". The charts use a small font, thin margins, 3-4 ticks with short formats and short series names
("total", "pam", ...); the x axis is named once, in the loss chart's title.
"""

from __future__ import annotations

import math

from PySide6.QtCharts import QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QMargins, Qt
from PySide6.QtGui import QFont, QPainter
from PySide6.QtWidgets import QVBoxLayout, QWidget


def series_label(key: str) -> str:
    """Legend name of a metrics key: ``loss`` is the weighted "total", ``loss_pam`` is "pam"."""
    return "total" if key == "loss" else key.removeprefix("loss_")


def _small_font(base: QFont, delta: float) -> QFont:
    font = QFont(base)
    font.setPointSizeF(max(6.0, base.pointSizeF() - delta))
    return font


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    v = float(value)
    return v if math.isfinite(v) else None


class _Chart(QChartView):
    def __init__(self, title: str, y_format: str, parent: QWidget | None = None) -> None:
        chart = QChart()
        base = QFont()
        chart.setTitle(title)
        chart.setTitleFont(_small_font(base, 1.0))
        chart.setMargins(QMargins(2, 2, 2, 2))
        chart.layout().setContentsMargins(0, 0, 0, 0)
        chart.setBackgroundRoundness(0)
        chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        chart.legend().setFont(_small_font(base, 1.5))
        super().__init__(chart, parent)
        self.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.setMinimumHeight(170)
        self.x_axis = QValueAxis()
        self.x_axis.setLabelFormat("%d")
        self.x_axis.setTickCount(3)
        self.y_axis = QValueAxis()
        self.y_axis.setLabelFormat(y_format)
        self.y_axis.setTickCount(4)
        for axis, side in (
            (self.x_axis, Qt.AlignmentFlag.AlignBottom),
            (self.y_axis, Qt.AlignmentFlag.AlignLeft),
        ):
            axis.setLabelsFont(_small_font(base, 1.5))
            chart.addAxis(axis, side)
        self.series: dict[str, QLineSeries] = {}
        self._x_max = 1.0
        self._y_min = math.inf
        self._y_max = -math.inf

    def add_point(self, name: str, x: float, y: float) -> None:
        series = self.series.get(name)
        if series is None:
            series = QLineSeries()
            series.setName(series_label(name))
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
        self.loss_chart = _Chart("Training loss per iteration", "%.2g")
        self.miou_chart = _Chart("Validation mIoU", "%.2f")
        self.miou_chart.setToolTip("mIoU on the held-out reviewed images, per iteration")
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
