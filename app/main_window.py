"""Main window: composes actions, menus and docks built elsewhere (placeholder until the app lands)."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("DANet Annotator")
        self.setCentralWidget(QLabel("DANet Annotator"))
