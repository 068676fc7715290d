"""The main window's toolbar and dock tabs, laid out to fit a 1366 x 768 screen.

Why (issue 10, seen at 1366 x 768 and at the default 1400 x 900):
- The toolbar overflowed and reflowed: the tools' long menu texts, and QUndoStack's "Undo Brush stroke"
  texts, pushed "Mark reviewed and go to next" into the overflow menu. The toolbar now starts with that
  action, uses short texts (the menus keep the long ones) and fixed "Undo"/"Redo"
  (``app.widgets.canvas_actions``), so nothing moves when the undo history changes.
- Tabbed docks elided their titles ("Heatm..."). Tabs now never elide (scroll buttons when a user's
  layout is too narrow), docks can have a short tab title with the long name in the tab's tooltip and in
  View > Panels, and enabling a panel in View > Panels raises it (a tabbed panel was shown behind another).
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow, QTabBar, QToolBar

# The main toolbar, in groups: the action of the labeling loop first, so it is the last to overflow.
TOOLBAR_GROUPS: tuple[tuple[str, ...], ...] = (
    ("reviewed_next", "save"),
    ("brush", "eraser", "polygon", "fill", "eyedropper", "replace", "attention", "pan"),
    ("undo", "redo", "fit"),
    ("presegment_all", "open"),
)
SHORT_TEXTS = {"save": "Save", "open": "Open…"}  # the canvas actions set their own short texts


def build_main_toolbar(window: QMainWindow, actions: dict[str, QAction]) -> QToolBar:
    """The main toolbar (text only: readable in light and dark palettes), added to the window's top."""
    toolbar = QToolBar("Main toolbar", window)
    toolbar.setObjectName("toolbar_main")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    for name, text in SHORT_TEXTS.items():
        actions[name].setIconText(text)
    for i, group in enumerate(TOOLBAR_GROUPS):
        if i:
            toolbar.addSeparator()
        toolbar.addActions([actions[name] for name in group])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, toolbar)
    return toolbar


def make_dock(window: QMainWindow, name: str, title: str, tab: str = "") -> QDockWidget:
    """A dock named ``name`` whose tab reads ``tab`` (default: ``title``); View > Panels and the tab's
    tooltip give the full ``title``. Checking it in View > Panels also raises it above its tab group."""
    dock = QDockWidget(tab or title, window)
    dock.setObjectName(f"dock_{name}")
    toggle = dock.toggleViewAction()
    toggle.setText(title)
    toggle.setToolTip(title)
    toggle.triggered.connect(lambda checked: dock.raise_() if checked else None)
    for changed in (dock.dockLocationChanged, dock.visibilityChanged):  # Qt may have made or reset a tab
        changed.connect(lambda _value: QTimer.singleShot(0, window, lambda: tidy_dock_tabs(window)))
    return dock


def tidy_dock_tabs(window: QMainWindow) -> None:
    """Tabs of tabbed docks: never elided, scroll buttons if the tabs do not fit, full names as tooltips.

    Called after the layout is restored and whenever a dock moves: Qt makes these tab bars on demand."""
    titles = {d.windowTitle(): d.toggleViewAction().text() for d in window.findChildren(QDockWidget)}
    for bar in window.findChildren(QTabBar, options=Qt.FindChildOption.FindDirectChildrenOnly):
        bar.setElideMode(Qt.TextElideMode.ElideNone)
        bar.setUsesScrollButtons(True)
        bar.setExpanding(False)
        for i in range(bar.count()):
            bar.setTabToolTip(i, titles.get(bar.tabText(i), bar.tabText(i)))


def _window_qsettings() -> QSettings:
    return QSettings("danet-annotator", "danet-annotator")


def default_dock_layout(window: QMainWindow, docks: dict[str, QDockWidget]) -> None:
    """First start: images on the left; classes over a tab group of the other panels on the right,
    so the window fits a 1366 x 768 screen."""
    right = [docks[n] for n in ("heatmaps", "model", "cam") if n in docks]
    right += [d for n, d in docks.items() if n not in ("images", "classes", "heatmaps", "model", "cam")]
    for dock in right[1:]:
        window.tabifyDockWidget(right[0], dock)
    if right:
        right[0].raise_()
        window.resizeDocks([docks["classes"], right[0]], [460, 260], Qt.Orientation.Vertical)
    window.resizeDocks([docks["images"], docks["classes"]], [280, 300], Qt.Orientation.Horizontal)


def restore_window_layout(window: QMainWindow, docks: dict[str, QDockWidget]) -> bool:
    """The default layout, then the saved geometry and dock state (QSettings); True when a geometry was
    restored (otherwise the caller picks a first size)."""
    default_dock_layout(window, docks)
    qs = _window_qsettings()
    geometry, state = qs.value("window/geometry"), qs.value("window/state")
    restored = bool(geometry is not None and window.restoreGeometry(geometry))
    if state is not None:
        window.restoreState(state)
    tidy_dock_tabs(window)
    return restored


def save_window_layout(window: QMainWindow) -> None:
    qs = _window_qsettings()
    qs.setValue("window/geometry", window.saveGeometry())
    qs.setValue("window/state", window.saveState())
