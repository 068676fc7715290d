"""CAM view: the DANet channel attention matrix (C x C) of the current image as a colour-mapped image.

Row ``i`` is how much output channel ``i`` of the channel attention module draws from each input channel
``j`` (softmax over j, so rows sum to 1). The matrix is scaled to its own maximum for display and shown
pixel-exact (nearest neighbour) so single channels stay visible; hovering a cell shows ``i, j``, the raw
value and its share of the row's maximum (``app.model.view_hints.cam_value_text``). Most entries of a
trained model's rows underflow to exactly 0 in float32 (the softmax is nearly one-hot); the hover line says
so instead of a bare "0", and small values are shown in scientific notation.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QImage, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QLabel, QSizePolicy, QVBoxLayout, QWidget

from app.model.render import colormap
from app.model.view_hints import cam_value_text
from app.widgets.heatmap_panel import legend_pixmap


class _MatrixCanvas(QWidget):
    def __init__(self, owner: CamView) -> None:
        super().__init__(owner)
        self._owner = owner
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def _square(self) -> tuple[int, int, int]:
        side = min(self.width(), self.height())
        return (self.width() - side) // 2, (self.height() - side) // 2, side

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        matrix = self._owner.matrix
        if matrix is None:
            return None
        x0, y0, side = self._square()
        c = matrix.shape[0]
        if not (x0 <= pos.x() < x0 + side and y0 <= pos.y() < y0 + side) or side == 0:
            return None
        return int((pos.y() - y0) * c / side), int((pos.x() - x0) * c / side)

    def paintEvent(self, event: QPaintEvent) -> None:
        image = self._owner.image
        if image is None:
            return
        x0, y0, side = self._square()
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        p.drawImage(self.rect().adjusted(x0, y0, x0 + side - self.width(), y0 + side - self.height()), image)
        p.end()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        matrix = self._owner.matrix
        if cell is None or matrix is None:
            self._owner.info.setText(self._owner.summary)
            return
        self._owner.info.setText(self._owner.cell_text(*cell))


class CamView(QWidget):
    """Shows a C x C float matrix; :meth:`set_matrix` (None clears with a reason)."""

    def __init__(self, parent: QWidget | None = None, *, cmap: str = "inferno") -> None:
        super().__init__(parent)
        self.cmap = cmap
        self.matrix: np.ndarray | None = None
        self.image: QImage | None = None
        self.summary = "No channel attention yet: open a pre-segmented image."
        self.canvas = _MatrixCanvas(self)
        legend = QLabel()
        legend.setPixmap(legend_pixmap(cmap, width=160))
        legend.setToolTip("0 (left) to the matrix maximum (right)")
        self.info = QLabel(self.summary)
        self.info.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(legend, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.info)

    def cell_text(self, i: int, j: int) -> str:
        """The hover line of cell (row i, column j) of the shown matrix."""
        assert self.matrix is not None
        row_max = float(self.matrix[i].max())
        return f"output channel {i} ← input channel {j}: {cam_value_text(float(self.matrix[i, j]), row_max)}"

    def set_matrix(self, matrix: np.ndarray | None, *, reason: str = "") -> None:
        if matrix is None:
            self.matrix, self.image = None, None
            self.summary = reason or "No channel attention for this image."
        else:
            m = np.asarray(matrix, dtype=np.float32)
            if m.ndim != 2 or m.shape[0] != m.shape[1]:
                raise ValueError(f"channel attention matrix of shape {m.shape}; expected C x C")
            peak = float(m.max()) if m.size else 0.0
            scaled = np.clip((m / peak if peak > 0 else m) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            rgb = np.ascontiguousarray(colormap(self.cmap)[scaled])
            c = m.shape[0]
            self.matrix = m
            self.image = QImage(rgb.data, c, c, 3 * c, QImage.Format.Format_RGB888).copy()
            self.summary = f"{c} x {c} channel attention, max {peak:.3g}; hover a cell for its value."
        self.info.setText(self.summary)
        self.canvas.update()
