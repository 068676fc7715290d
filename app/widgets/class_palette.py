"""Class palette: the classes of the label set with their colours, a search box, number-key hotkeys,
and the "paint only over" lock selector.

Decisions:
- Order: classes that count in evaluation first, in label-set order, then the ones ignored in
  evaluation (for Cityscapes: road, sidewalk, building, ... before "ego vehicle", "rectification
  border", ...), so the hotkeys 1..9, 0 reach the classes people actually paint.
- Number keys always mean the 1st..10th class in palette order (``app.model.view_hints.hotkey_classes``),
  whatever the search shows: a user who learnt "4 = Road" must never paint Pedestrian because a search
  narrowed the list. Each row keeps its number while filtered; a key whose class the search hides clears
  the search, so the selected class is in view. Enter in the search box picks the first match.
- ``class_selected(int)`` is emitted whenever the current class changes, whether by a click, a hotkey
  or :meth:`ClassPalette.set_current_index`.
"""

from __future__ import annotations

import logging
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.model.view_hints import HOTKEYS, hotkey_label, palette_order

logger = logging.getLogger(__name__)

_INDEX_ROLE = Qt.ItemDataRole.UserRole


def color_icon(color: tuple[int, int, int], size: int = 16) -> QIcon:
    """A square swatch of ``color`` with a thin dark border (visible on light and dark palettes)."""
    pix = QPixmap(size, size)
    pix.fill(QColor(40, 40, 40))
    inner = QPixmap(size - 2, size - 2)
    inner.fill(QColor(*color))
    painter = QPainter(pix)
    painter.drawPixmap(1, 1, inner)
    painter.end()
    return QIcon(pix)


class LockSelector(QComboBox):
    """Chooses the "paint only over" lock: everything (None), unlabeled only (255), or one class."""

    lock_changed = Signal(object)  # int | None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setToolTip("Paint only over: edits change only pixels of this class")
        self.currentIndexChanged.connect(lambda _: self.lock_changed.emit(self.lock()))

    def set_label_set(self, label_set: Any) -> None:
        self.blockSignals(True)
        self.clear()
        self.addItem("Paint over everything", None)
        ignore = int(getattr(label_set, "ignore_index", 255))
        self.addItem("Paint over unlabeled only", ignore)
        for c in palette_order(label_set):
            self.addItem(color_icon(c.color), f"Paint over {c.name} only", int(c.index))
        self.setCurrentIndex(0)
        self.blockSignals(False)
        self.lock_changed.emit(None)

    def lock(self) -> int | None:
        value = self.currentData()
        return None if value is None else int(value)

    def set_lock(self, index: int | None) -> None:
        pos = self.findData(index) if index is not None else 0
        if pos < 0:
            raise ValueError(f"lock class {index} is not in the label set")
        self.setCurrentIndex(pos)


class ClassPalette(QWidget):
    """The class list with colours, search and hotkeys; see the module docstring."""

    class_selected = Signal(int)
    lock_changed = Signal(object)  # int | None, forwarded from the lock selector

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search classes…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget(self)
        self.list.setToolTip("Click a class to paint with it; keys 1..9, 0 pick the numbered classes")
        # at least ~5 rows, yet the window still fits a 768-px-high screen (minimum height checked)
        self.list.setMinimumHeight(5 * self.list.fontMetrics().height() + 16)
        self.lock_selector = LockSelector(self)
        self._empty = QLabel("No label set", self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        for w in (self.search, self.list, self._empty, self.lock_selector):
            layout.addWidget(w)
        self._current: int | None = None
        self._label_set: Any = None
        self.search.textChanged.connect(self._apply_filter)
        self.search.returnPressed.connect(lambda: self.select_visible(0))
        self.list.currentItemChanged.connect(self._on_item_changed)
        self.lock_selector.lock_changed.connect(self.lock_changed)
        self._update_empty()

    # --- contract --------------------------------------------------------------------------------
    def set_label_set(self, label_set: Any) -> None:
        self._label_set = label_set
        self.list.blockSignals(True)
        self.list.clear()
        for row, c in enumerate(palette_order(label_set)):
            item = QListWidgetItem(color_icon(c.color), hotkey_label(row, c.name))
            item.setData(_INDEX_ROLE, int(c.index))
            item.setToolTip(f"{c.name} (index {c.index}" + (f", {c.category})" if c.category else ")"))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self.lock_selector.set_label_set(label_set)
        self._current = None
        self._apply_filter(self.search.text())
        self._update_empty()
        if self.list.count() and not self.select_visible(0):
            self.list.setCurrentRow(0)

    def current_index(self) -> int | None:
        """The selected class index, or None before a label set is set."""
        return self._current

    def set_current_index(self, index: int) -> None:
        for row in range(self.list.count()):
            if self._item_index(row) == int(index):
                self.list.setCurrentRow(row)
                return
        raise ValueError(f"class index {index} is not in the label set")

    # --- hotkeys and search ----------------------------------------------------------------------
    def hotkey_actions(self, parent: QWidget) -> list[QAction]:
        """Ten actions (keys 1..9, 0) selecting the 1st..10th class in palette order, added to ``parent``."""
        actions = []
        for pos, key in enumerate(HOTKEYS):
            action = QAction(f"Class {key}", parent)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(lambda _=False, p=pos: self.select_hotkey(p))
            parent.addAction(action)
            actions.append(action)
        return actions

    def select_hotkey(self, position: int) -> bool:
        """Select the ``position``-th class in palette order (0-based), shown or not; a search that hides
        it is cleared so that the selection is visible. False when the label set has fewer classes."""
        if not 0 <= position < self.list.count():
            return False
        item = self.list.item(position)
        if item.isHidden():
            self.search.clear()
        self.list.setCurrentItem(item)
        return True

    def select_visible(self, position: int) -> bool:
        """Select the ``position``-th shown class (0-based); False when there are fewer."""
        visible = self._visible_items()
        if position >= len(visible):
            return False
        self.list.setCurrentItem(visible[position])
        return True

    def _visible_items(self) -> list[QListWidgetItem]:
        return [self.list.item(r) for r in range(self.list.count()) if not self.list.item(r).isHidden()]

    def _item_index(self, row: int) -> int:
        return int(self.list.item(row).data(_INDEX_ROLE))

    def _apply_filter(self, text: str) -> None:
        """Hide the rows that do not match; rows keep their text (and so their number key)."""
        needle = text.strip().casefold()
        for row in range(self.list.count()):
            item = self.list.item(row)
            c = self._label_set.by_index(self._item_index(row)) if self._label_set is not None else None
            hay = f"{c.name} {c.category}".casefold() if c is not None else item.text().casefold()
            item.setHidden(bool(needle) and needle not in hay)

    def _on_item_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is None:
            return
        index = int(item.data(_INDEX_ROLE))
        if index != self._current:
            self._current = index
            self.class_selected.emit(index)

    def _update_empty(self) -> None:
        has = self.list.count() > 0
        self._empty.setVisible(not has)
        self.list.setVisible(has)
