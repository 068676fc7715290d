"""Status bar parts: cursor position / class under the cursor / model confidence, and a job indicator
(progress bar + cancel button) shared by every long job.

Why one shared job indicator: the user should see at a glance that something runs in the background
(pre-segmentation, export, thumbnails are not shown — they are quick), how far it is, and stop it, without
a modal dialog blocking the labeling.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget


class CursorInfo(QWidget):
    """``x, y · class · confidence`` of the pixel under the cursor."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = QLabel()
        self.klass = QLabel()
        self.confidence = QLabel()
        self.position.setMinimumWidth(110)
        self.klass.setMinimumWidth(140)
        self.confidence.setMinimumWidth(120)
        self.position.setToolTip("Image pixel under the cursor (x, y)")
        self.klass.setToolTip("Class of the mask under the cursor")
        self.confidence.setToolTip("Model confidence (highest class probability) at the cursor")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.position, self.klass, self.confidence):
            layout.addWidget(w)
        self.clear()

    def clear(self) -> None:
        self.position.setText("x –, y –")
        self.klass.setText("")
        self.confidence.setText("")

    def show_pixel(self, x: int, y: int, class_name: str | None, confidence: float | None) -> None:
        if x < 0 or y < 0:
            self.clear()
            return
        self.position.setText(f"x {x}, y {y}")
        self.klass.setText(class_name if class_name is not None else "unlabeled")
        self.confidence.setText("" if confidence is None else f"confidence {confidence:.0%}")


class JobIndicator(QWidget):
    """A progress bar with a label and a cancel button; hidden while no job runs.

    ``cancel_requested`` is emitted when the user presses the button; the owner of the job cancels it.
    """

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip("Cancel this job")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)

    def start(self, text: str, total: int = 0, *, cancellable: bool = True) -> None:
        self.label.setText(text)
        self.bar.setRange(0, max(0, total))  # 0..0 = busy indicator
        self.bar.setValue(0)
        self.cancel_button.setVisible(cancellable)
        self.cancel_button.setEnabled(True)
        self.setVisible(True)

    def update_progress(self, done: int, total: int, text: str = "") -> None:
        if total > 0:
            self.bar.setRange(0, total)
            self.bar.setValue(min(done, total))
        if text:
            self.label.setText(text)

    def stop(self) -> None:
        self.setVisible(False)
