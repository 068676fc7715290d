"""Heatmap panel: choose what the canvas shows over the image, its opacity, and a legend that says what the
colours mean.

Decision: every uncertainty heatmap is oriented so that *hot = look here*: "low confidence" shows
``1 - max softmax``, "small margin" shows ``1 - (p1 - p2)``, entropy is shown as is (normalised to 0..1).
The attention map of a clicked pixel (DANet position attention row) is scaled by its own maximum, because
the raw row sums to 1 over thousands of positions and would be invisible otherwise.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.model.render import legend_gradient

# kind -> (menu label, legend low text, legend high text, explanation)
HEATMAP_KINDS: dict[str, tuple[str, str, str, str]] = {
    "off": ("Off", "", "", "No heatmap: the class mask overlay only."),
    "confidence": (
        "Low confidence",
        "sure",
        "unsure",
        "1 − highest class probability per pixel: bright pixels are the model's guesses.",
    ),
    "entropy": (
        "Entropy",
        "one class",
        "uniform",
        "Normalised entropy of the class probabilities: bright = spread over many classes.",
    ),
    "margin": (
        "Small margin",
        "clear winner",
        "tie",
        "1 − (top-1 − top-2 probability): bright = two classes nearly tied (typical at borders).",
    ),
    "attention": (
        "Attention (PAM)",
        "ignored",
        "attended",
        "Position attention of the clicked pixel (attention tool, A): where the model looks to "
        "classify it. Scaled to its maximum.",
    ),
}


def legend_pixmap(cmap: str, width: int = 220, height: int = 14) -> QPixmap:
    """A horizontal gradient bar of ``cmap`` (left = 0, right = 1)."""
    row = legend_gradient(cmap, width)  # the canvas' own table: the legend shows what it paints
    rgb = np.ascontiguousarray(np.repeat(row[None, :, :], height, axis=0))
    img = QImage(rgb.data, width, height, 3 * width, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(img)


class HeatmapPanel(QWidget):
    """Signals ``kind_changed(str)`` (a key of :data:`HEATMAP_KINDS`) and ``opacity_changed(float)``."""

    kind_changed = Signal(str)
    opacity_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None, *, cmap: str = "inferno", opacity: float = 0.6) -> None:
        super().__init__(parent)
        self.cmap = cmap
        self.kind_combo = QComboBox()
        for key, (label, *_rest) in HEATMAP_KINDS.items():
            self.kind_combo.addItem(label, key)
        self.kind_combo.setToolTip("Heatmap shown over the image (H cycles through them)")
        self.opacity = QSlider(Qt.Orientation.Horizontal)
        self.opacity.setRange(0, 100)
        self.opacity.setValue(round(opacity * 100))
        self.opacity.setToolTip("Heatmap opacity")
        self.legend_bar = QLabel()
        self.legend_bar.setPixmap(legend_pixmap(cmap))
        self.low_label = QLabel()
        self.high_label = QLabel()
        self.high_label.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.explain = QLabel()
        self.explain.setWordWrap(True)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setStyleSheet("color: palette(mid);")
        ends = QHBoxLayout()
        ends.addWidget(self.low_label)
        ends.addStretch(1)
        ends.addWidget(self.high_label)
        form = QFormLayout()
        form.addRow("Show", self.kind_combo)
        form.addRow("Opacity", self.opacity)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.legend_bar)
        layout.addLayout(ends)
        layout.addWidget(self.explain)
        layout.addWidget(self.status)
        layout.addStretch(1)
        self.kind_combo.currentIndexChanged.connect(self._kind_changed)
        self.opacity.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self._update_legend()

    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def set_kind(self, kind: str) -> None:
        i = self.kind_combo.findData(kind)
        if i < 0:
            raise ValueError(f"unknown heatmap kind {kind!r}; expected one of {', '.join(HEATMAP_KINDS)}")
        self.kind_combo.setCurrentIndex(i)

    def cycle(self) -> None:
        self.kind_combo.setCurrentIndex((self.kind_combo.currentIndex() + 1) % self.kind_combo.count())

    def opacity_value(self) -> float:
        return self.opacity.value() / 100.0

    def set_status(self, text: str) -> None:
        """A line under the legend: what is being computed, or why nothing is shown."""
        self.status.setText(text)

    def _kind_changed(self, _i: int) -> None:
        self._update_legend()
        self.kind_changed.emit(self.kind())

    def _update_legend(self) -> None:
        _label, low, high, explain = HEATMAP_KINDS[self.kind()]
        visible = self.kind() != "off"
        self.legend_bar.setVisible(visible)
        self.low_label.setText(f"0 · {low}" if visible else "")
        self.high_label.setText(f"{high} · 1" if visible else "")
        self.explain.setText(explain)
