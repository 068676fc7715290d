"""The fine-tune dock: one button, progress with ETA, live curves, the old/new comparison, model versions.

Passive view: it emits what the user asks for (``start_requested``, ``cancel_requested``,
``resume_requested``, ``activate_requested(int)``) and the fine-tune controller drives it through the
public slots. Nothing here blocks the canvas: training runs in a child process.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.widgets.finetune_curves import TrainingCurves
from app.widgets.finetune_settings import FinetuneSettings
from app.widgets.model_versions import ModelVersionsTable
from danet_core.training.finetune_plan import FinetunePlan


class FinetunePanel(QWidget):
    start_requested = Signal()
    cancel_requested = Signal()
    resume_requested = Signal()
    activate_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.summary = QLabel("Label and review a few images, then fine-tune the model on them.")
        self.summary.setWordWrap(True)
        self.start_button = QPushButton("Fine-tune")
        self.start_button.setToolTip("Train the model on every reviewed image, in a separate process")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop at the next iteration; the last checkpoint is kept")
        self.resume_button = QPushButton("Resume")
        self.resume_button.setToolTip("Continue the stopped or failed run from its last checkpoint")
        self.start_button.clicked.connect(self.start_requested)
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.resume_button.clicked.connect(self.resume_requested)
        self.progress_bar = QProgressBar()
        self.progress_bar.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.result = QLabel("")
        self.result.setWordWrap(True)
        self.curves = TrainingCurves()
        self.settings = FinetuneSettings()
        self.versions = ModelVersionsTable()
        self.versions.activate_requested.connect(self.activate_requested)

        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.resume_button)
        settings_scroll = QScrollArea()
        settings_scroll.setWidgetResizable(True)
        settings_scroll.setWidget(self.settings)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.curves, "Curves")
        self.tabs.addTab(self.versions, "Model versions")
        self.tabs.addTab(settings_scroll, "Settings")
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(buttons)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.result)
        layout.addWidget(self.tabs, 1)
        self.set_running(False)
        self.set_resume_available(False)

    # -- slots driven by the controller --------------------------------------------------------------
    @Slot(bool)
    def set_running(self, running: bool) -> None:
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.settings.setEnabled(not running)
        if running:
            self.resume_button.setEnabled(False)
            self.progress_bar.setRange(0, 0)  # busy until the first iteration is logged

    @Slot(bool)
    def set_resume_available(self, available: bool) -> None:
        self.resume_button.setEnabled(available and not self.cancel_button.isEnabled())

    def set_plan(self, plan: FinetunePlan, reviewed: int, effort: str = "", expectation: str = "") -> None:
        """Show what one click will do (the settings tab keeps user overrides when it has them) and the
        project's effort figures (share of pixels corrected, time per image)."""
        if not self.settings.is_overriding():
            self.settings.show_plan(plan)
        try:
            line = f"One click: {self.settings.plan().describe()}."
        except ValueError as exc:
            line = f"Advanced settings: {exc}"
        self.summary.setText(
            f"{effort or f'{reviewed} reviewed'}\n{line}" + (f"\n{expectation}" if expectation else "")
        )

    @Slot(int, int, str)
    def set_progress(self, done: int, total: int, message: str) -> None:
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(min(done, total))
        self.status.setText(message)

    @Slot(dict)
    def add_record(self, record: dict) -> None:
        self.curves.add_record(record)

    def start_run(self, description: str) -> None:
        self.curves.clear()
        self.result.setText("")
        self.status.setText(description)
        self.set_running(True)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def set_result(self, text: str) -> None:
        self.result.setText(text)

    def set_versions(self, versions: Sequence[Any], active_id: int | None) -> None:
        self.versions.set_versions(versions, active_id)
