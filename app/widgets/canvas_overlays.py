"""Text laid over the canvas: the "paint only over" banner, the active tool's hint, and the note saying
whether a quick preview or the full-resolution result is shown (``app.model.preview``).

Why on the canvas and not in the status bar: both explain what a stroke will do (or why it does nothing),
so they must be where the user looks while painting, and must not be replaced by the next status message.
They are children of the view (not of its viewport, which scrolls its children with the image).
"""

from __future__ import annotations

from PySide6.QtCore import QRect, Qt, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QLabel, QWidget

MARGIN = 8
_STYLE = "QLabel {{ background: rgba({bg}); color: white; padding: 4px 10px; border-radius: 4px; }}"


class _OverlayLabel(QLabel):
    """A rounded label with a dark translucent background, readable over bright and dark images."""

    def __init__(self, parent: QWidget, background: str) -> None:
        super().__init__(parent)
        self.setStyleSheet(_STYLE.format(bg=background))
        self.hide()

    def show_text(self, text: str | None) -> bool:
        """Show ``text`` (None or "" hides the label); True when that changed what is shown (the caller
        then places it again). Called on every mouse move, so an unchanged text costs nothing."""
        if not text:
            shown = self.isVisibleTo(self.parentWidget())
            self.hide()
            return shown
        if text == self.text() and self.isVisibleTo(self.parentWidget()):
            return False
        self.setText(text)
        self.adjustSize()
        self.show()
        self.raise_()
        return True


class LockBanner(_OverlayLabel):
    """Top centre of the canvas while "paint only over" is set; a click on it asks to clear the lock."""

    clicked = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, "150, 60, 0, 215")
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Edits change only pixels of this class. Click (or press Esc) to paint everywhere.")

    def place(self, area: QRect) -> None:
        self.move(area.x() + (area.width() - self.width()) // 2, area.y() + MARGIN)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
        event.accept()


class ToolHint(_OverlayLabel):
    """Bottom left of the canvas: what the active tool will do (the replace tool's "A -> B")."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, "20, 20, 20, 190")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)

    def place(self, area: QRect) -> None:
        self.move(area.x() + MARGIN, area.y() + area.height() - self.height() - MARGIN)


class PredictionNote(_OverlayLabel):
    """Bottom right of the canvas (clear of the banner and the tool hint): "Preview (1/6 scale) — full
    result in about 40 s …", then "Full resolution"; on the canvas because a preview looks like a
    finished pre-segmentation."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent, "20, 70, 140, 215")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents, True)

    def place(self, area: QRect) -> None:
        x = max(area.x() + MARGIN, area.x() + area.width() - self.width() - MARGIN)
        self.move(x, area.y() + area.height() - self.height() - MARGIN)
