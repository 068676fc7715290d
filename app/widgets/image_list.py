"""Image list panel: every image of the project with its status, a status/name filter and lazy thumbnails.

Why lazy: a project of thousands of images must open instantly, so the list never decodes an image
itself. The model asks for thumbnails only of rows the view actually paints (``data(DecorationRole)`` is
only called for visible rows), batches those requests with a zero-delay timer and emits
``thumbnails_needed(list[int])``; whoever owns a worker (the session controller) decodes them off the GUI
thread and calls :meth:`ImageListPanel.set_thumbnail`.

The order, the filters and "which image is next" are app state (:class:`app.model.image_queue.ImageQueue`);
this panel shows the queue's visible records and edits its order and filters. After changing the queue's
records, the owner calls :meth:`ImageListPanel.refresh` (or :meth:`update_record` for one row).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPixmap
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLineEdit, QListView, QVBoxLayout, QWidget

from app.model.image_queue import STATUS_FILTERS, ImageQueue
from app.model.review_queue import record_status
from app.model.view_hints import image_row_text

THUMB_SIZE = QSize(96, 72)
STATUS_LABELS = {
    "new": "New",
    "presegmented": "Pre-segmented",
    "in_progress": "In progress",
    "reviewed": "Reviewed",
}
# Distinguishable in light and dark palettes, and for the common colour-vision deficiencies (blue/orange).
STATUS_COLORS = {
    "new": QColor(150, 150, 150),
    "presegmented": QColor(66, 133, 244),
    "in_progress": QColor(245, 159, 0),
    "reviewed": QColor(52, 168, 83),
}
_DISPLAY = Qt.ItemDataRole.DisplayRole
IdRole = Qt.ItemDataRole.UserRole + 1
StatusRole = Qt.ItemDataRole.UserRole + 2


def _status_dot(color: QColor, size: int = 14) -> QPixmap:
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(QColor(0, 0, 0, 120))
    p.setBrush(color)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return pix


class ImageListModel(QAbstractListModel):
    """Rows are the visible records of an :class:`ImageQueue` (``id``, ``rel_path``, ``status``, ...)."""

    thumbnails_needed = Signal(list)

    def __init__(self, queue: ImageQueue, parent: Any = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self._records: list[Any] = []
        self._row_of: dict[int, int] = {}
        self._thumbs: dict[int, QPixmap] = {}
        self._requested: set[int] = set()
        self._unreadable: dict[int, str] = {}  # image id -> why its file cannot be read
        self._pending: list[int] = []
        self._dots = {k: _status_dot(c) for k, c in STATUS_COLORS.items()}
        self._flush = QTimer(self)
        self._flush.setSingleShot(True)
        self._flush.setInterval(0)
        self._flush.timeout.connect(self._emit_requests)

    def refresh(self) -> None:
        """Re-read the queue's visible records (order, filter or records changed)."""
        self.beginResetModel()
        self._records = self.queue.visible()
        self._row_of = {r.id: i for i, r in enumerate(self._records)}
        known = {r.id for r in self.queue.records()}
        self._thumbs = {k: v for k, v in self._thumbs.items() if k in known}
        self._requested &= known
        self._unreadable = {k: v for k, v in self._unreadable.items() if k in known}
        self.endResetModel()

    def update_record(self, record: Any) -> None:
        """One record changed in the queue: repaint its row, or re-read when the order moved."""
        if [r.id for r in self.queue.visible()] != [r.id for r in self._records]:
            self.refresh()
            return
        row = self._row_of.get(record.id)
        if row is None:
            return
        self._records[row] = record
        idx = self.index(row)
        self.dataChanged.emit(idx, idx)

    def record(self, image_id: int) -> Any | None:
        return self.queue.record(image_id)

    def records(self) -> list[Any]:
        """The shown records, in the shown order."""
        return list(self._records)

    def row_of(self, image_id: int) -> int | None:
        return self._row_of.get(image_id)

    def set_thumbnail(self, image_id: int, image: QImage) -> None:
        row = self._row_of.get(image_id)
        if row is None or image.isNull():
            return
        self._thumbs[image_id] = QPixmap.fromImage(image)
        idx = self.index(row)
        self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def mark_unreadable(self, image_id: int, reason: str) -> None:
        self._unreadable[image_id] = reason
        row = self._row_of.get(image_id)
        if row is not None:
            idx = self.index(row)
            self.dataChanged.emit(idx, idx)

    def unreadable(self) -> dict[int, str]:
        return dict(self._unreadable)

    def has_thumbnail(self, image_id: int) -> bool:
        return image_id in self._thumbs

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._records)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = _DISPLAY) -> Any:
        if not index.isValid():
            return None
        rec = self._records[index.row()]
        status = record_status(rec)
        if role == Qt.ItemDataRole.DisplayRole:  # sorted by uncertainty: the score is in the row
            label = STATUS_LABELS.get(status, status) + (
                " · ⚠ unreadable" if rec.id in self._unreadable else ""
            )
            return image_row_text(rec.rel_path, label, getattr(rec, "uncertainty", None), self.queue.order)
        if role == Qt.ItemDataRole.DecorationRole:
            return self._decoration(rec.id, status)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{rec.rel_path}\nstatus: {STATUS_LABELS.get(status, status)}"
            if getattr(rec, "uncertainty", None) is not None:
                tip += f"\nuncertainty: {rec.uncertainty:.3f}"
            if getattr(rec, "missing", False):
                tip += "\nthe image file is missing"
            if rec.id in self._unreadable:
                tip += f"\nthe image file {self._unreadable[rec.id]}"
            return tip
        if role == IdRole:
            return rec.id
        if role == StatusRole:
            return status
        return None

    def _decoration(self, image_id: int, status: str) -> QPixmap:
        dot = self._dots.get(status, self._dots["new"])
        thumb = self._thumbs.get(image_id)
        if thumb is None:
            if image_id not in self._requested:
                self._requested.add(image_id)
                self._pending.append(image_id)
                self._flush.start()
            canvas = QPixmap(THUMB_SIZE)
            canvas.fill(Qt.GlobalColor.transparent)
        else:
            canvas = QPixmap(thumb)
        p = QPainter(canvas)
        p.drawPixmap(2, 2, dot)
        p.end()
        return canvas

    def _emit_requests(self) -> None:
        if self._pending:
            ids, self._pending = self._pending, []
            self.thumbnails_needed.emit(ids)


class ImageListPanel(QWidget):
    """Filterable image list. Emits ``image_activated(id)`` when the user picks an image."""

    image_activated = Signal(int)
    thumbnails_needed = Signal(list)

    def __init__(self, queue: ImageQueue | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue if queue is not None else ImageQueue()
        self.model = ImageListModel(self.queue, self)
        self.filter_combo = QComboBox()
        for label, _ in STATUS_FILTERS:
            self.filter_combo.addItem(label)
        self.filter_combo.setToolTip("Show only images with this status")
        self.order_combo = QComboBox()
        self.order_combo.addItem("By name", "name")
        self.order_combo.addItem("Most uncertain first", "uncertainty")
        self.order_combo.setToolTip("Review order: the model's least certain images first teach it the most")
        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by name…")
        self.search.setClearButtonEnabled(True)
        self.view = QListView()
        self.view.setModel(self.model)
        self.view.setUniformItemSizes(True)  # only visible rows are queried: lazy thumbnails
        self.view.setIconSize(THUMB_SIZE)
        self.view.setSelectionMode(QListView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QListView.EditTrigger.NoEditTriggers)
        top = QHBoxLayout()
        top.addWidget(self.filter_combo, 1)
        top.addWidget(self.order_combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(top)
        layout.addWidget(self.search)  # own row: readable in a narrow dock
        layout.addWidget(self.view, 1)
        self.filter_combo.currentIndexChanged.connect(self._filter_changed)
        self.order_combo.currentIndexChanged.connect(
            lambda _i: self.set_order(self.order_combo.currentData())
        )
        self.search.textChanged.connect(self._name_filter_changed)
        self.view.activated.connect(self._activated)
        self.view.clicked.connect(self._activated)
        self.model.thumbnails_needed.connect(self.thumbnails_needed)

    # -- slots for the controller -----------------------------------------------------------------
    def set_records(self, records: Iterable[Any]) -> None:
        """Replace the queue's records and show them."""
        self.queue.set_records(records)
        self.refresh()

    def refresh(self) -> None:
        """Show the queue as it is now, keeping the selected image selected."""
        current = self.current_id()
        self.model.refresh()
        if current is not None:
            self.set_current(current)

    def update_record(self, record: Any) -> None:
        current = self.current_id()
        if self.queue.update_record(record):
            self.model.update_record(record)
            if current is not None and self.current_id() != current:
                self.set_current(current)

    def set_thumbnail(self, image_id: int, image: QImage) -> None:
        self.model.set_thumbnail(image_id, image)

    def mark_unreadable(self, image_id: int, reason: str) -> None:
        """Show that this image's file cannot be decoded (found while making its thumbnail)."""
        self.model.mark_unreadable(image_id, reason)

    def reset_filters(self) -> None:
        """A new project: every image shown again (the status filter and the name filter cleared)."""
        self.filter_combo.setCurrentIndex(0)
        self.search.clear()
        self.queue.clear_filters()

    def set_status_filter(self, label: str) -> None:
        labels = [f[0] for f in STATUS_FILTERS]
        self.filter_combo.setCurrentIndex(labels.index(label))

    def current_id(self) -> int | None:
        idx = self.view.currentIndex()
        value = idx.data(IdRole) if idx.isValid() else None
        return None if value is None else int(value)

    def set_current(self, image_id: int) -> None:
        """Select ``image_id`` without emitting ``image_activated`` (the controller already opened it)."""
        row = self.model.row_of(image_id)
        if row is None:
            return
        idx = self.model.index(row)
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)

    def set_order(self, order: str) -> None:
        """ "name" or "uncertainty" (unreviewed, most uncertain first); "next" follows the shown order."""
        self.queue.set_order(order)
        self.order_combo.blockSignals(True)
        self.order_combo.setCurrentIndex(max(0, self.order_combo.findData(order)))
        self.order_combo.blockSignals(False)
        self.refresh()

    def order(self) -> str:
        return self.queue.order

    def visible_ids(self) -> list[int]:
        """Ids in the filtered, displayed order."""
        return [r.id for r in self.model.records()]

    def row_index(self, row: int) -> QModelIndex:
        """The view index of a displayed row (tests click rows through it)."""
        return self.model.index(row)

    def _filter_changed(self, i: int) -> None:
        self.queue.set_status_filter(STATUS_FILTERS[i][1])
        self.refresh()

    def _name_filter_changed(self, text: str) -> None:
        self.queue.set_name_filter(text)
        self.refresh()

    def _activated(self, idx: QModelIndex) -> None:
        image_id = idx.data(IdRole)
        if image_id is not None:
            self.image_activated.emit(int(image_id))
