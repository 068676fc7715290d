"""Status bar parts: cursor position / class under the cursor / model confidence / zoom, and a job indicator
(progress bar + cancel button) shared by every long job.

Why one shared job indicator: the user should see at a glance that something runs in the background
(pre-segmentation, export, thumbnails are not shown — they are quick), how far it is, and stop it, without
a modal dialog blocking the labeling.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from app.model.view_hints import zoom_text


class CursorInfo(QWidget):
    """``x, y · class · confidence`` of the pixel under the cursor, and the canvas zoom (which stays
    when the cursor leaves the image)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.position = QLabel()
        self.klass = QLabel()
        self.confidence = QLabel()
        self.position.setMinimumWidth(110)
        self.klass.setMinimumWidth(140)
        self.confidence.setMinimumWidth(120)
        self.zoom = QLabel()
        self.zoom.setMinimumWidth(self.zoom.fontMetrics().horizontalAdvance("zoom 6400 %") + 8)
        self.zoom.setToolTip("Zoom: screen pixels per image pixel (Ctrl+0 fits, Ctrl+1 is 100 %)")
        self.position.setToolTip("Image pixel under the cursor (x, y)")
        self.klass.setToolTip("Class of the mask under the cursor")
        self.confidence.setToolTip("Model confidence (highest class probability) at the cursor")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for w in (self.position, self.klass, self.confidence, self.zoom):
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

    def show_zoom(self, zoom: float) -> None:
        self.zoom.setText(zoom_text(zoom))


class JobIndicator(QWidget):
    """A progress bar with a label and a cancel button for the long jobs that are running.

    Several jobs may run at once (an export during a "pre-segment all" batch): each is tracked under its
    own key, the most recently started one is shown, and the indicator hides only when the last one
    stops. ``cancel_requested(key)`` names the job shown when the user pressed the button; its owner
    cancels it.
    """

    cancel_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel()
        self.bar = QProgressBar()
        self.bar.setMaximumWidth(180)
        self.bar.setTextVisible(True)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("✕")
        self.cancel_button.setToolTip("Cancel this job")
        self.cancel_button.clicked.connect(self._cancel_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        # key -> [text, done, total, cancellable]; insertion order = start order
        self._jobs: dict[str, list] = {}
        self.setVisible(False)

    def start(self, key: str, text: str, total: int = 0, *, cancellable: bool = True) -> None:
        self._jobs.pop(key, None)
        self._jobs[key] = [text, 0, max(0, total), cancellable]
        self.cancel_button.setEnabled(True)
        self._show_current()

    def update_progress(self, key: str, done: int, total: int, text: str = "") -> None:
        job = self._jobs.get(key)
        if job is None:
            return  # a late progress signal of a job that already stopped
        job[1], job[2] = done, max(job[2], total) if total > 0 else job[2]
        if text:
            job[0] = text
        self._show_current()

    def stop(self, key: str) -> None:
        self._jobs.pop(key, None)
        self._show_current()

    def running(self) -> list[str]:
        return list(self._jobs)

    def _current_key(self) -> str | None:
        return next(reversed(self._jobs), None)

    def _show_current(self) -> None:
        key = self._current_key()
        if key is None:
            self.setVisible(False)
            return
        text, done, total, cancellable = self._jobs[key]
        suffix = f" (+{len(self._jobs) - 1} more)" if len(self._jobs) > 1 else ""
        self.label.setText(text + suffix)
        self.bar.setRange(0, total)  # 0..0 = busy indicator
        self.bar.setValue(min(done, total))
        self.cancel_button.setVisible(cancellable)
        self.setVisible(True)

    def _cancel_clicked(self) -> None:
        key = self._current_key()
        if key is not None:
            self.cancel_requested.emit(key)
