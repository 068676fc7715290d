"""The canvas tools need only the ToolHost protocol: they work against a fake host, no CanvasView."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui


class FakeHost:
    """The smallest ToolHost: a document, a class, and a record of what the tools asked for."""

    def __init__(self, document) -> None:
        from PySide6.QtWidgets import QGraphicsScene

        self.document = document
        self._scene = QGraphicsScene()
        self.picked: list[int] = []
        self.clicks: list[tuple[int, int]] = []
        self.edits: list[tuple[str, bool]] = []
        self._class = 2

    def scene(self):
        return self._scene

    def current_class(self) -> int:
        return self._class

    def lock_class(self) -> int | None:
        return None

    def set_current_class(self, index: int) -> None:
        self._class = index

    def brush_size(self) -> int:
        return 3

    def image_size(self) -> tuple[int, int]:
        return (self.document.width, self.document.height)

    def screen_distance(self, a, b) -> float:
        return float(np.hypot(a[0] - b[0], a[1] - b[1]))

    def push_edit(self, edit, text: str, *, applied: bool) -> None:
        if not applied:
            self.document.apply(edit)
        self.edits.append((text, applied))

    def report_class_picked(self, index: int) -> None:
        self.picked.append(index)

    def report_attention_click(self, x: int, y: int) -> None:
        self.clicks.append((x, y))


def test_tools_drive_a_fake_host(qapp) -> None:
    from PySide6.QtCore import QPointF, Qt

    from app.model.document import AnnotationDocument
    from app.widgets.tools import make_tools
    from danet_core.labels import get_label_set

    mask = np.zeros((10, 12), np.uint8)
    mask[:, 6:] = 1
    host = FakeHost(AnnotationDocument(mask, get_label_set("camvid")))
    tools = make_tools(host)
    none = Qt.KeyboardModifier.NoModifier
    tools["eyedropper"].press(QPointF(8.5, 2.5), none)
    assert host.picked == [1] and host.current_class() == 1  # the eyedropper also selects the class
    host.set_current_class(2)
    tools["fill"].press(QPointF(1.5, 1.5), none)
    assert host.edits == [("Fill", False)] and (host.document.mask[:, :6] == 2).all()
    assert (host.document.mask[:, 6:] == 1).all()
    tools["attention"].press(QPointF(3.2, 4.7), none)
    assert host.clicks == [(3, 4)]
