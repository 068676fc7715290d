"""The Import dialog (File ▸ Import labels…): folder, format, status, the preview, keep or replace.

It only shows and collects; the texts, the choices and when Import may start are
``app.model.import_preview``. The dry run itself is the controller's (a worker): the dialog asks for it
with ``inspect_requested(folder, format, guess)`` and shows what comes back (:meth:`show_checking`,
:meth:`show_inspection`). When the matched images include some with a mask, Import stays disabled until
"keep" or "replace" is chosen; every new preview clears that choice, so it is always about the
files on screen. Sized for a 1366 x 768 screen.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from app.model.import_preview import (
    FORMAT_CHOICES,
    STATUS_CHOICES,
    FolderInspection,
    ImportRequest,
    existing_text,
    format_choice,
    guess_text,
    import_blocker,
    preview_text,
    request_from,
)
from app.widgets.form_parts import fit_to_screen, row_with_button
from danet_core.project import ImageStatus


def _wrapped(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    return label


class ImportDialog(QDialog):
    """``request()`` is what to import once accepted (None before a usable preview)."""

    inspect_requested = Signal(str, str, bool)  # folder, format, guess the format first

    def __init__(self, folder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import labels")
        self.inspection: FolderInspection | None = None
        self.checking = False
        self._inspected = ""
        form = QFormLayout()
        form.addRow("Folder", self._folder_row(folder))
        form.addRow("Format", self._format_column())
        self.status = QComboBox()
        for status, text in STATUS_CHOICES:
            self.status.addItem(text, status)
        form.addRow("Imported images are", self.status)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self._preview_group(), 1)
        layout.addWidget(self._existing_group())
        self.blocker = _wrapped()
        layout.addWidget(self.blocker)
        sb = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(sb.Ok | sb.Cancel)
        self.import_button = self.buttons.button(sb.Ok)
        self.import_button.setText("Import")
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._show_format()
        self._sync()
        fit_to_screen(self, 720, 600)

    # -- construction ------------------------------------------------------------------------------
    def _folder_row(self, folder: str) -> QHBoxLayout:
        self.folder = QLineEdit(folder)
        self.folder.setPlaceholderText("The folder with the label files (searched recursively)")
        self.folder.editingFinished.connect(self.inspect_folder)
        return row_with_button(self.folder, "Browse…", self._browse)

    def _format_column(self) -> QVBoxLayout:
        self.format = QComboBox()
        for choice in FORMAT_CHOICES:
            self.format.addItem(choice.label, choice.fmt)
        self.format.currentIndexChanged.connect(self._format_chosen)
        self.explanation = _wrapped()
        self.guess = _wrapped()
        column = QVBoxLayout()
        column.addWidget(self.format)
        column.addWidget(self.explanation)
        column.addWidget(self.guess)
        return column

    def _preview_group(self) -> QGroupBox:
        group = QGroupBox("What would be imported")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setMinimumHeight(110)
        self.summary.setPlaceholderText("Choose a folder: its files are matched to the project's images.")
        column = QVBoxLayout(group)
        column.addWidget(self.summary)
        return group

    def _existing_group(self) -> QGroupBox:
        self.existing = QGroupBox("Images that already have a mask")
        self.existing_question = _wrapped()
        self.keep = QRadioButton("Keep their masks (import only into images without one)")
        self.replace = QRadioButton(
            "Replace their masks (the old ones are kept in the project's conflicts folder)"
        )
        self.choice = QButtonGroup(self)
        for button in (self.keep, self.replace):
            self.choice.addButton(button)
            button.toggled.connect(self._sync)
        column = QVBoxLayout(self.existing)
        column.addWidget(self.existing_question)
        column.addWidget(self.keep)
        column.addWidget(self.replace)
        self.existing.setVisible(False)
        return self.existing

    # -- what the controller calls -----------------------------------------------------------------
    def show_checking(self, done: int = 0, total: int = 0) -> None:
        """A dry run is running (``done`` of ``total`` files matched so far)."""
        self.checking = True
        count = f" ({done} of {total} files)" if total else ""
        self.blocker.setText(f"Checking the folder…{count}")
        self.import_button.setEnabled(False)

    def show_inspection(self, inspection: FolderInspection) -> None:
        """Show a finished dry run; a guessed format is selected (without asking for another run)."""
        self.checking = False
        self.inspection = inspection
        self.guess.setText(guess_text(inspection.guess))
        index = self.format.findData(inspection.fmt)
        if index >= 0 and index != self.format.currentIndex():
            self.format.blockSignals(True)
            self.format.setCurrentIndex(index)
            self.format.blockSignals(False)
        self._show_format()
        self.summary.setPlainText(preview_text(inspection))
        question = existing_text(inspection.preview)
        self.existing_question.setText(question)
        self.existing.setVisible(bool(question))
        self.choice.setExclusive(False)  # a new preview needs a new explicit choice
        self.keep.setChecked(False)
        self.replace.setChecked(False)
        self.choice.setExclusive(True)
        self._sync()

    def show_failure(self, message: str) -> None:
        self.checking = False
        self.inspection = None
        self.summary.setPlainText(message)
        self._sync()

    def replace_choice(self) -> bool | None:
        """True = replace, False = keep, None = not chosen yet."""
        if self.replace.isChecked():
            return True
        return False if self.keep.isChecked() else None

    def request(self) -> ImportRequest | None:
        if self.inspection is None or self.checking or import_blocker(self.inspection, self.replace_choice()):
            return None
        status = ImageStatus.parse(self.status.currentData())  # Qt hands the enum back as its str value
        return request_from(self.inspection, status, self.replace_choice())

    # -- slots ---------------------------------------------------------------------------------------
    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(
            self, "Folder with the labels to import", self.folder.text()
        )
        if folder:
            self.folder.setText(folder)
            self.inspect_folder()

    def inspect_folder(self) -> None:
        """Ask for a dry run of the folder in the line edit (guessing its format) unless it was just done."""
        folder = self.folder.text().strip()
        if folder and folder != self._inspected:
            self._inspected = folder
            self.show_checking()
            self.inspect_requested.emit(folder, self.format.currentData(), True)

    def _format_chosen(self) -> None:
        self._show_format()
        folder = self.folder.text().strip()
        if folder:
            self._inspected = folder
            self.show_checking()
            self.inspect_requested.emit(folder, self.format.currentData(), False)

    def _show_format(self) -> None:
        self.explanation.setText(format_choice(self.format.currentData()).explanation)

    def _sync(self) -> None:
        if self.checking:
            return
        why = import_blocker(self.inspection, self.replace_choice())
        self.blocker.setText(why)
        self.import_button.setEnabled(not why)

    def _accept(self) -> None:
        if self.request() is not None:
            self.accept()
