"""The Export dialog: formats, destination, which images, and the Cityscapes options (split, city and the
class -> Cityscapes label table).

It only shows and collects; the proposal, the checks and the plan are ``app.model.export_settings``. OK
runs ``plan_export`` and stays open with its message while something is wrong (an unmapped class, a bad
split), so a plan it hands back is one the exporter accepts. Everything but the OK / Cancel row scrolls,
so the dialog is usable at 1366 x 768.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.export_settings import (
    CITYSCAPES_TARGETS,
    UNLABELED_TARGET,
    ExportPlan,
    ExportSettings,
    MappingRow,
    mapping_rows,
    plan_export,
)
from app.widgets.form_parts import fit_to_screen, row_with_button
from danet_core.labels import LabelSet

UNMAPPED_BRUSH = QBrush(QColor("#ffd0c8"))
SPLIT_CHOICES = ("auto", "train", "val", "test", "train=0.8,val=0.2")
ORIGIN_CHOSEN = "your choice"
SHOWN_UNMAPPED = 5  # names in the status line (all are highlighted in the table)


class ExportDialog(QDialog):
    """``plan`` (set when OK is accepted) is what to export; ``settings()`` is what to remember."""

    def __init__(
        self,
        formats: Mapping[str, str],
        settings: ExportSettings,
        label_set: LabelSet,
        note: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export labels")
        self.label_set = label_set
        self.plan: ExportPlan | None = None
        self.format_boxes: dict[str, QCheckBox] = {}
        body = QWidget()
        form = QFormLayout(body)
        if note:
            form.addRow(_note_label(note))
        form.addRow("Formats", self._format_column(formats, settings.formats))
        form.addRow("Destination", self._folder_row(settings.folder))
        self.reviewed_only = QCheckBox("Only reviewed images")
        self.reviewed_only.setChecked(settings.reviewed_only)
        self.reviewed_only.setToolTip("Unchecked: every image that has a saved mask")
        form.addRow("", self.reviewed_only)
        form.addRow(self._cityscapes_group(settings))
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        sb = QDialogButtonBox.StandardButton
        self.buttons = QDialogButtonBox(sb.Ok | sb.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)
        self._set_rows(mapping_rows(label_set, settings.mapping))
        self._sync_cityscapes_enabled()
        fit_to_screen(self, 760, 720)

    # -- construction ------------------------------------------------------------------------------
    def _format_column(self, formats: Mapping[str, str], chosen: tuple[str, ...]) -> QVBoxLayout:
        column = QVBoxLayout()
        for fmt, label in formats.items():
            box = QCheckBox(label)
            box.setChecked(fmt in chosen)
            box.toggled.connect(self._sync_cityscapes_enabled)
            self.format_boxes[fmt] = box
            column.addWidget(box)
        return column

    def _folder_row(self, folder: str) -> QHBoxLayout:
        self.folder = QLineEdit(folder)
        self.folder.setPlaceholderText("Folder the files go to (one subfolder per format when several)")
        return row_with_button(self.folder, "Browse…", self._browse)

    def _cityscapes_group(self, settings: ExportSettings) -> QGroupBox:
        self.cityscapes = QGroupBox("Cityscapes")
        self.split = QComboBox()
        self.split.setEditable(True)
        self.split.addItems(SPLIT_CHOICES)
        self.split.setCurrentText(settings.split)
        self.split.setToolTip(
            "auto: a train/val/test folder in the image path, else train; a name (all images in it); "
            "or fractions like train=0.8,val=0.2 (a stable hash of each image's path decides)"
        )
        self.city = QLineEdit(settings.city)
        self.city.setPlaceholderText("each image's folder name")
        self.city.setToolTip("City of generated <city>_<seq>_<frame> names: letters, digits or '-'")
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Class", "Cityscapes label", "From"])
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setMinimumHeight(200)
        self.unmapped_label = QLabel()
        self.unmapped_label.setWordWrap(True)
        status_row = row_with_button(
            self.unmapped_label, "Use the proposal", lambda: self._set_rows(mapping_rows(self.label_set))
        )
        group = QFormLayout(self.cityscapes)
        group.addRow("Split", self.split)
        group.addRow("City", self.city)
        group.addRow(QLabel(f"Each class becomes a Cityscapes label ('{UNLABELED_TARGET}' drops it):"))
        group.addRow(self.table)
        group.addRow(status_row)
        return self.cityscapes

    # -- the mapping table -------------------------------------------------------------------------
    def _set_rows(self, rows: list[MappingRow]) -> None:
        self.table.setRowCount(len(rows))
        self.combos: list[QComboBox] = []
        for r, row in enumerate(rows):
            item = QTableWidgetItem(_swatch(row.color), row.class_name)
            self.table.setItem(r, 0, item)
            combo = QComboBox()
            combo.addItems(CITYSCAPES_TARGETS)
            combo.setPlaceholderText("— choose a Cityscapes label —")
            combo.setCurrentIndex(CITYSCAPES_TARGETS.index(row.target) if row.target else -1)
            combo.currentIndexChanged.connect(lambda _i, r=r: self._row_changed(r))
            self.table.setCellWidget(r, 1, combo)
            self.combos.append(combo)
            self.table.setItem(r, 2, QTableWidgetItem(row.origin))
            self._paint_row(r)
        self._show_unmapped()

    def _row_changed(self, r: int) -> None:
        self.table.item(r, 2).setText(ORIGIN_CHOSEN)
        self._paint_row(r)
        self._show_unmapped()

    def _paint_row(self, r: int) -> None:
        brush = UNMAPPED_BRUSH if self.combos[r].currentIndex() < 0 else QBrush()
        for c in (0, 2):
            self.table.item(r, c).setBackground(brush)

    def unmapped(self) -> list[str]:
        return [self._class_at(r) for r, c in enumerate(self.combos) if c.currentIndex() < 0]

    def _class_at(self, r: int) -> str:
        return self.table.item(r, 0).text()

    def _row_of(self, class_name: str) -> int:
        return next(r for r in range(self.table.rowCount()) if self._class_at(r) == class_name)

    def _show_unmapped(self) -> None:
        names = self.unmapped()
        if names:
            shown = ", ".join(names[:SHOWN_UNMAPPED]) + (" …" if len(names) > SHOWN_UNMAPPED else "")
            text = f"<b>{len(names)} unmapped</b> (highlighted): {shown}"
        else:
            text = f"All {len(self.combos)} classes mapped."
        self.unmapped_label.setText(text)

    def set_target(self, class_name: str, target: str) -> None:
        """Choose ``target`` for ``class_name`` as a click in its combo box would (tests, plug-ins)."""
        self.combos[self._row_of(class_name)].setCurrentIndex(CITYSCAPES_TARGETS.index(target))

    # -- values ------------------------------------------------------------------------------------
    def chosen_mapping(self) -> dict[str, str]:
        """Class -> Cityscapes label of every row with a choice (unmapped rows are left out)."""
        return {
            self._class_at(r): c.currentText() for r, c in enumerate(self.combos) if c.currentIndex() >= 0
        }

    def settings(self) -> ExportSettings:
        mapping = self.chosen_mapping()
        return ExportSettings(
            formats=tuple(f for f, box in self.format_boxes.items() if box.isChecked()),
            folder=self.folder.text().strip(),
            reviewed_only=self.reviewed_only.isChecked(),
            split=self.split.currentText().strip() or "auto",
            city=self.city.text().strip(),
            mapping=mapping,
        )

    def _sync_cityscapes_enabled(self) -> None:
        box = self.format_boxes.get("cityscapes")
        self.cityscapes.setEnabled(box is not None and box.isChecked())

    def _browse(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Export destination", self.folder.text())
        if d:
            self.folder.setText(d)

    def _accept(self) -> None:
        try:
            self.plan = plan_export(self.settings(), self.label_set)
        except ValueError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            if self.cityscapes.isEnabled() and self.unmapped():
                row = self._row_of(self.unmapped()[0])
                self.table.scrollToItem(self.table.item(row, 0))
                self.combos[row].setFocus()
            return
        self.accept()


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(14, 14)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


def _note_label(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setStyleSheet("background: #fff3c4; padding: 6px; border: 1px solid #e0c060;")
    return label
