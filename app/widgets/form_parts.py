"""Pieces the dialogs share: a field with a button beside it, and a size that fits the screen."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QHBoxLayout, QPushButton, QWidget


def row_with_button(field: QWidget, text: str, on_click: Callable[[], None]) -> QHBoxLayout:
    """``field`` stretched, then a button (``Browse…``, ``JSON…``) that calls ``on_click``."""
    button = QPushButton(text)
    button.clicked.connect(on_click)
    row = QHBoxLayout()
    row.addWidget(field, 1)
    row.addWidget(button)
    return row


def fit_to_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize to ``width`` x ``height``, smaller where the screen is (1366 x 768 laptops), so the
    buttons at the bottom stay on screen; what does not fit scrolls inside the widget."""
    screen = widget.screen()
    if screen is not None:
        area = screen.availableGeometry()
        width, height = min(width, area.width() - 40), min(height, area.height() - 60)
    widget.resize(width, height)
