"""Number keys choose classes even while a list (whose type-ahead search wants printable keys) has the
keyboard focus: the key goes through the window system and its shortcut map, as a real key press does."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

pytestmark = pytest.mark.gui


def test_digits_reach_the_class_shortcuts_from_the_lists(qtbot, window, project_dir) -> None:
    session = window.session
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    window.activateWindow()
    for view, key, expected in (
        (window.image_list.view, Qt.Key.Key_4, 3),
        (window.palette.list, Qt.Key.Key_9, 8),
    ):
        view.setFocus()
        qtbot.waitUntil(view.hasFocus, timeout=2000)
        QTest.keyClick(window.windowHandle(), key)  # through the window system, as a real key press
        assert window.palette.current_index() == expected
