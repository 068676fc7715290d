"""The pretrained models (Model ▸ Get a pretrained model…): rows and facts from app.model.zoo_choice."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QListWidget, QVBoxLayout, QWidget

from app.model.zoo_choice import ZooRow


class ZooDialog(QDialog):
    """Pick one row; ``chosen()`` is its entry name after ``exec()`` returned Accepted."""

    def __init__(self, rows: list[ZooRow], cache_dir: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Get a pretrained model")
        self.rows = rows
        self.list = QListWidget()
        self.list.addItems([r.title for r in rows])
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setMinimumHeight(90)
        note = QLabel(
            f"Downloaded once into {cache_dir} (shared with `danet models download`), checked, then "
            "imported into this project as a new active model version. Offline: the message says where "
            "to put the file."
        )
        note.setWordWrap(True)
        sb = QDialogButtonBox.StandardButton
        buttons = QDialogButtonBox(sb.Ok | sb.Cancel)
        ok = buttons.button(sb.Ok)
        ok.setText("Download and use")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.details)
        layout.addWidget(note)
        layout.addWidget(buttons)
        self.list.currentRowChanged.connect(self._show)
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())
        self.resize(760, 420)
        if rows:
            self.list.setCurrentRow(0)

    def _show(self, row: int) -> None:
        self.details.setText(self.rows[row].details if 0 <= row < len(self.rows) else "")

    def chosen(self) -> str | None:
        row = self.list.currentRow()
        return self.rows[row].name if 0 <= row < len(self.rows) else None
