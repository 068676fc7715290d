"""Small dialogs: inference settings, new project, keyboard shortcuts (F1), error message with details.

They only read and return values; the controllers decide what to do with them. The Export dialog lives
in ``app.widgets.export_dialog`` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHeaderView,
    QLineEdit,
    QMessageBox,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.settings import AppSettings
from app.widgets.export_dialog import ExportDialog
from app.widgets.form_parts import row_with_button
from danet_core.options import DEVICE_AUTO, PRECISIONS

__all__ = ["ExportDialog", "NewProjectDialog", "SettingsDialog", "ShortcutsDialog", "show_error"]

BUILTIN_LABEL_SETS = ("cityscapes", "camvid", "voc")


class SettingsDialog(QDialog):
    """Device, precision, whole image vs sliding window, prefetch and autosave delay."""

    def __init__(self, settings: AppSettings, devices: Iterable[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Inference and editing settings")
        self.device = QComboBox()
        for d in [DEVICE_AUTO, *devices]:
            self.device.addItem(d)
        self.device.setCurrentText(settings.device)
        self.device.setToolTip("auto = the first CUDA GPU when present, else the CPU")
        self.precision = QComboBox()
        self.precision.addItems(list(PRECISIONS))
        self.precision.setCurrentText(settings.precision)
        self.precision.setToolTip("bf16/fp16 autocast: faster on GPUs, slightly different probabilities")
        self.mode = QComboBox()
        self.mode.addItem("Whole image", "whole")
        self.mode.addItem("Sliding window", "slide")
        self.mode.setCurrentIndex(0 if settings.mode == "whole" else 1)
        self.crop = _spin(128, 4096, settings.crop, "Sliding-window crop side in pixels")
        self.stride = _spin(64, 4096, settings.stride, "Sliding-window stride in pixels (≤ crop)")
        self.slide_above = _spin(256, 20000, settings.slide_above, "Larger images always slide")
        self.prefetch = _spin(0, 16, settings.prefetch, "Next images of the list pre-segmented ahead of time")
        self.autosave = _spin(0, 60000, settings.autosave_delay_ms, "Autosave this long after the last edit")
        self.autosave.setSuffix(" ms")
        rows = [
            ("Device", self.device),
            ("Precision", self.precision),
            ("Inference", self.mode),
            ("Crop", self.crop),
            ("Stride", self.stride),
            ("Slide images larger than", self.slide_above),
            ("Pre-segment ahead", self.prefetch),
            ("Autosave delay", self.autosave),
        ]
        _form_with_ok_cancel(self, rows, self._accept)
        self._base = settings
        self.result_settings: AppSettings | None = None

    def values(self) -> AppSettings:
        data = self._base.to_dict()
        data.update(
            device=self.device.currentText(),
            precision=self.precision.currentText(),
            mode=self.mode.currentData(),
            crop=self.crop.value(),
            stride=self.stride.value(),
            slide_above=self.slide_above.value(),
            prefetch=self.prefetch.value(),
            autosave_delay_ms=self.autosave.value(),
        )
        return AppSettings.from_dict(data)

    def _accept(self) -> None:
        try:
            self.result_settings = self.values()
        except ValueError as exc:
            QMessageBox.warning(self, "Invalid settings", str(exc))
            return
        self.accept()


def _form_with_ok_cancel(dialog: QDialog, rows: list[tuple[str, Any]], on_ok: Callable[[], None]) -> None:
    """Lay out ``dialog`` as a form of (label, widget or layout) rows above OK / Cancel."""
    form = QFormLayout()
    for label, field in rows:
        form.addRow(label, field)
    sb = QDialogButtonBox.StandardButton
    buttons = QDialogButtonBox(sb.Ok | sb.Cancel)
    buttons.accepted.connect(on_ok)
    buttons.rejected.connect(dialog.reject)
    layout = QVBoxLayout(dialog)
    layout.addLayout(form)
    layout.addWidget(buttons)


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setToolTip(tip)
    return s


class NewProjectDialog(QDialog):
    """Image folder + label set (built-in name or a label-set JSON file)."""

    def __init__(
        self, folder: str = "", label_set: str = "cityscapes", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("New project from an image folder")
        self.folder = QLineEdit(folder)
        self.label_set = QComboBox()
        self.label_set.setEditable(True)
        self.label_set.addItems(BUILTIN_LABEL_SETS)
        self.label_set.setCurrentText(label_set)
        self.label_set.setToolTip("A built-in label set, or the path of a label-set JSON file")
        rows = [
            ("Image folder", row_with_button(self.folder, "Browse…", self._browse)),
            ("Label set", row_with_button(self.label_set, "JSON…", self._browse_labels)),
        ]
        _form_with_ok_cancel(self, rows, self.accept)

    def values(self) -> tuple[Path, str]:
        return Path(self.folder.text().strip()).expanduser(), self.label_set.currentText().strip()

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Image folder", self.folder.text())
        if d:
            self.folder.setText(d)

    def _browse_labels(self) -> None:
        f, _ = QFileDialog.getOpenFileName(self, "Label-set JSON", "", "Label sets (*.json)")
        if f:
            self.label_set.setCurrentText(f)


class ShortcutsDialog(QDialog):
    """Every action with a shortcut, as a searchable table (F1)."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = []
        for a in actions:
            keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in a.shortcuts()]
            if keys and a.text():
                rows.append((a.text().replace("&", ""), ", ".join(keys), a.toolTip()))
        rows.sort(key=lambda r: r[0].lower())
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search…")
        self.search.setClearButtonEnabled(True)
        self.table = QTableWidget(len(rows), 2)
        self.table.setHorizontalHeaderLabels(["Action", "Shortcut"])
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for i, (name, keys, tip) in enumerate(rows):
            item = QTableWidgetItem(name)
            item.setToolTip(tip)
            self.table.setItem(i, 0, item)
            self.table.setItem(i, 1, QTableWidgetItem(keys))
        self.search.textChanged.connect(self._filter)
        layout = QVBoxLayout(self)
        layout.addWidget(self.search)
        layout.addWidget(self.table)
        self.resize(460, 520)

    def _filter(self, text: str) -> None:
        t = text.lower()
        for r in range(self.table.rowCount()):
            hit = any(t in (self.table.item(r, c).text().lower()) for c in range(2))
            self.table.setRowHidden(r, not hit)


def show_error(parent: QWidget | None, message: str, details: str, log_path: str = "") -> None:
    """A warning box with the one-line message; the traceback under "Show Details"."""
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("DANet Annotator")
    box.setText(message)
    if log_path:
        box.setInformativeText(f"The full report is in the log file:\n{log_path}")
    if details:
        box.setDetailedText(details)
    box.exec()
