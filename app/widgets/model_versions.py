"""Model versions table: every model the project has had, its metrics, and rollback to any of them.

Rows come from ``Project.model_versions()`` (``danet_core.project.ModelVersion``: id, created, parent,
metrics). The widget never changes the project itself: "Make active" emits ``activate_requested(id)``
and the fine-tune controller switches the model and re-pre-segments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Version", "Created", "Held-out mIoU", "Previous mIoU", "Images", "From", "Active")


def _fmt_miou(value: Any) -> str:
    return f"{100 * float(value):.1f}%" if isinstance(value, int | float) else "—"


class ModelVersionsTable(QWidget):
    """Table + "Make active" button; emits ``activate_requested(version_id)``."""

    activate_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemSelectionChanged.connect(self._update_button)
        self.table.itemDoubleClicked.connect(lambda _item: self._activate())
        self.activate_button = QPushButton("Make active (roll back)")
        self.activate_button.setToolTip(
            "Pre-segment with the selected model version from now on; images not reviewed yet are "
            "pre-segmented again"
        )
        self.activate_button.clicked.connect(self._activate)
        self._active: int | None = None
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.activate_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self._update_button()

    def set_versions(self, versions: Sequence[Any], active_id: int | None) -> None:
        """Show ``versions`` (ModelVersion-like objects), newest first; mark ``active_id``."""
        self._active = active_id
        self.table.setRowCount(0)
        for v in sorted(versions, key=lambda v: v.id, reverse=True):
            m = v.metrics or {}
            cells = (
                f"v{v.id}",
                str(v.created),
                _fmt_miou(m.get("heldout_miou")),
                _fmt_miou(m.get("previous_miou")),
                str(m.get("reviewed_images", "—")),
                f"v{v.parent}" if v.parent is not None else "—",
                "●" if v.id == active_id else "",
            )
            row = self.table.rowCount()
            self.table.insertRow(row)
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setData(Qt.ItemDataRole.UserRole, int(v.id))
                if col == 0 and m.get("note"):
                    item.setToolTip(str(m["note"]))
                self.table.setItem(row, col, item)
        self._update_button()

    def selected_version(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        if not rows:
            return None
        return int(self.table.item(rows[0].row(), 0).data(Qt.ItemDataRole.UserRole))

    def select_version(self, version_id: int) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).data(Qt.ItemDataRole.UserRole) == version_id:
                self.table.selectRow(row)
                return

    def _update_button(self) -> None:
        selected = self.selected_version()
        self.activate_button.setEnabled(selected is not None and selected != self._active)

    def _activate(self) -> None:
        selected = self.selected_version()
        if selected is not None and selected != self._active:
            self.activate_requested.emit(selected)
