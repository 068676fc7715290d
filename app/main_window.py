"""Main window: composes widgets, controllers, actions, menus and docks. No logic of its own.

Adding a feature is two lines: ``self.add_controller(name, controller)`` and
``self.add_dock(name, title, widget, area)`` (the fine-tune dock does exactly that). The window layout
(dock positions, sizes, geometry) is saved with QSettings on close and restored on start.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app import logging_setup
from app.controllers.export import ExportController
from app.controllers.finetune import FinetuneController
from app.controllers.heatmaps import HeatmapController
from app.controllers.importer import ImportController
from app.controllers.preferences import offer_last_project, remember_preferences, restore_preferences
from app.controllers.presegment import NO_MODEL_HINT, PresegmentController
from app.controllers.session import SessionController
from app.controllers.zoo import ZooController
from app.model.devices import DeviceInfo, probe_devices
from app.model.image_queue import ImageQueue
from app.model.settings import AppSettings, RecentProjects, load_settings, save_settings
from app.widgets.cam_view import CamView
from app.widgets.canvas import CanvasView
from app.widgets.canvas_actions import TOOL_ACTIONS, build_canvas_actions
from app.widgets.class_palette import ClassPalette
from app.widgets.dialogs import NewProjectDialog, SettingsDialog, ShortcutsDialog, show_error
from app.widgets.edit_controls import BrushSizeSpin, OpacitySlider
from app.widgets.finetune_panel import FinetunePanel
from app.widgets.heatmap_panel import HeatmapPanel
from app.widgets.image_list import ImageListPanel
from app.widgets.status_bar import CursorInfo, JobIndicator
from app.widgets.window_layout import (
    build_main_toolbar,
    make_dock,
    restore_window_layout,
    save_window_layout,
)
from app.workers.base import FunctionWorker, shutdown_all
from danet_core.project import CatalogDamaged

log = logging.getLogger(__name__)

RESOURCES = Path(__file__).resolve().parents[1] / "resources"
ICON_PATH = RESOURCES / "danet-annotator.svg"


class ErrorReporter(QObject):
    """Thread-safe funnel for errors: emitting from any thread shows the box in the GUI thread."""

    report = Signal(str, str)


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, recent: RecentProjects | None = None) -> None:
        super().__init__()
        self.setWindowTitle("DANet Annotator")
        if ICON_PATH.is_file():
            self.setWindowIcon(QIcon(str(ICON_PATH)))
        self.setDockNestingEnabled(True)
        self.settings = settings or load_settings()
        self.recent = recent or RecentProjects.load()
        self.controllers: dict[str, QObject] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.errors = ErrorReporter(self)
        self.errors.report.connect(self.show_error, Qt.ConnectionType.QueuedConnection)
        self.devices: DeviceInfo | None = None
        self._build_widgets()
        self._build_controllers()
        self._probe_devices()
        self.actions_by_name: dict[str, QAction] = build_canvas_actions(self.canvas, self)
        self.actions_by_name.update(self._build_actions())
        self._build_menus_and_toolbar()
        self._wire()
        self._layout_restored = restore_window_layout(self, self.docks)
        restore_preferences(self.settings, self.canvas, self.image_list, self.finetune_panel)
        if not self._layout_restored:  # first start: 1400 x 900, never larger than the screen (1366 x 768)
            screen = QGuiApplication.primaryScreen()
            w, h = (1400, 900)
            if screen is not None:
                avail = screen.availableGeometry()
                w, h = min(w, avail.width()), min(h, avail.height())
            self.resize(w, h)
        self.statusBar().showMessage(
            "Open an image folder or a project (Ctrl+O), or a recent one (File ▸ Open recent). F1: shortcuts."
        )

    # -- composition ------------------------------------------------------------------------------
    def add_controller(self, name: str, controller: QObject) -> QObject:
        """Register a controller (reachable as ``controller(name)``); its ``error`` signal is shown."""
        self.controllers[name] = controller
        if hasattr(controller, "error"):
            controller.error.connect(self.errors.report)
        return controller

    def controller(self, name: str) -> Any:
        """A composed controller: "session", "presegment", "heatmaps", "export" (ADR 0001)."""
        try:
            return self.controllers[name]
        except KeyError:
            raise KeyError(f"no controller {name!r}; have {', '.join(self.controllers)}") from None

    def add_dock(
        self,
        name: str,
        title: str,
        widget: QWidget,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
        *,
        tab: str = "",
    ) -> QDockWidget:
        """Add a dock (its toggle goes to View ▸ Panels; its place is remembered by ``name``); ``tab``: a
        short tab title when ``title`` is long (``app.widgets.window_layout.make_dock``).

        The panel sits in a scroll area so that no panel (the fine-tune panel needs ~590 px) can force the
        window taller than a 768-px-high laptop screen.
        """
        dock = make_dock(self, name, title, tab)
        scroll = QScrollArea(dock)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        dock.setWidget(scroll)
        self.addDockWidget(area, dock)
        self.docks[name] = dock
        if hasattr(self, "panels_menu"):
            self.panels_menu.addAction(dock.toggleViewAction())
        return dock

    def _build_widgets(self) -> None:
        self.canvas = CanvasView(self)
        self.canvas.setToolTip("")
        self.setCentralWidget(self.canvas)
        self.queue = ImageQueue()  # app state; the image list is its view
        self.image_list = ImageListPanel(self.queue)
        self.palette = ClassPalette()
        self.heatmap_panel = HeatmapPanel(opacity=self.settings.heatmap_opacity)
        self.cam_view = CamView()
        self.model_label = QLabel(NO_MODEL_HINT)
        self.model_label.setWordWrap(True)
        self.model_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cursor_info = CursorInfo()
        self.jobs = JobIndicator()
        self.statusBar().addPermanentWidget(self.jobs)
        self.statusBar().addPermanentWidget(self.cursor_info)
        self.add_dock("images", "Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.add_dock("classes", "Classes", self._classes_widget())
        self.add_dock("model", "Model", self._model_widget())
        self.add_dock("heatmaps", "Heatmaps", self.heatmap_panel)
        cam = self.add_dock("cam", "Channel attention (CAM)", self.cam_view, tab="CAM")
        cam.hide()
        self.finetune_panel = FinetunePanel()
        self.add_dock("finetune", "Fine-tune", self.finetune_panel)

    def _classes_widget(self) -> QWidget:
        w = QWidget()
        layout = QVBoxLayout(w)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.palette, 1)
        layout.addWidget(QLabel("Brush size"))
        layout.addWidget(BrushSizeSpin(self.canvas))
        layout.addWidget(QLabel("Overlay opacity"))
        self.opacity_slider: QSlider = OpacitySlider(self.canvas)
        self.opacity_slider.setValue(round(self.settings.overlay_opacity * 100))
        layout.addWidget(self.opacity_slider)
        return w

    def _model_widget(self) -> QWidget:
        w = QWidget()
        layout = QVBoxLayout(w)
        layout.addWidget(self.model_label)
        self.load_model_button = QPushButton("Load model…")
        self.presegment_button = QPushButton("Pre-segment all")
        layout.addWidget(self.load_model_button)
        self.get_model_button = QPushButton("Get a pretrained model…")
        layout.addWidget(self.get_model_button)
        layout.addWidget(self.presegment_button)
        layout.addStretch(1)
        return w

    def _build_controllers(self) -> None:
        session = SessionController(
            self.canvas,
            self.image_list,
            self.settings,
            self.recent,
            cursor_info=self.cursor_info,
            parent=self,
        )
        pre = PresegmentController(session, self.settings, parent=self)
        heat = HeatmapController(session, pre, self.canvas, self.heatmap_panel, self.cam_view, parent=self)
        ft = FinetuneController(session, pre, self.finetune_panel, self.settings, parent=self)
        self.session: SessionController = session
        self.presegment: PresegmentController = pre
        self.heatmaps: HeatmapController = heat
        self.exporter: ExportController = ExportController(session, self.jobs, parent=self)
        self.finetune: FinetuneController = ft
        self.zoo: ZooController = ZooController(session, pre, self.jobs, parent=self)
        self.importer: ImportController = ImportController(session, self.jobs, parent=self)
        for name, controller in (
            ("session", session),
            ("presegment", pre),
            ("heatmaps", heat),
            ("export", self.exporter),
            ("finetune", ft),
            ("zoo", self.zoo),
            ("import", self.importer),
        ):
            self.add_controller(name, controller)
        ft.message.connect(lambda t: self.statusBar().showMessage(t, 8000))

    def _action(self, name: str, text: str, slot: Any, keys: Any = None, tip: str = "") -> QAction:
        a = QAction(text, self)
        if keys is not None:
            seqs = keys if isinstance(keys, list) else [QKeySequence(keys)]
            a.setShortcuts(seqs)
        a.setToolTip(tip or text.replace("&", "").rstrip("…"))
        a.setStatusTip(a.toolTip())
        a.triggered.connect(slot)
        self.addAction(a)
        return a

    def _build_actions(self) -> dict[str, QAction]:
        s, p, SK = self.session, self.presegment, QKeySequence.StandardKey
        return {
            "new_project": self._action("new_project", "&New project from folder…", self.new_project, SK.New),
            "open": self._action("open", "&Open project or folder…", self.open_dialog, SK.Open),
            "save": self._action("save", "&Save mask", lambda: s.save_current(), SK.Save),
            "export": self._action("export", "&Export labels…", self.exporter.open_dialog, "Ctrl+E"),
            "import_labels": self._action(
                "import_labels",
                "&Import labels…",
                lambda: self.importer.open_dialog(),
                "Ctrl+I",
                "Import annotations (Cityscapes, labelme, palette or plain masks) into matching images",
            ),
            "quit": self._action("quit", "&Quit", self.close, SK.Quit),
            "next": self._action("next", "&Next image", lambda: s.go_relative(1), ["PgDown", "."]),
            "previous": self._action("previous", "&Previous image", lambda: s.go_relative(-1), ["PgUp", ","]),
            "reviewed_next": self._action(
                "reviewed_next",
                "Mark &reviewed and go to next",
                s.mark_reviewed_and_next,
                ["Ctrl+Return", "Ctrl+Enter"],
                "Save this mask as reviewed and open the next image to review (Ctrl+Enter)",
            ),
            "load_model": self._action("load_model", "&Load model…", self.load_model_dialog, "Ctrl+L"),
            "get_model": self._action(
                "get_model",
                "&Get a pretrained model…",
                lambda: self.zoo.open_dialog(),
                tip="Download a public DANet checkpoint (Cityscapes, ADE20K, VOC) and use it",
            ),
            "presegment_all": self._action(
                "presegment_all", "Pre-segment &all", p.start_batch, "Ctrl+Shift+P"
            ),
            "finetune": self._action(
                "finetune", "&Fine-tune on reviewed images", self.finetune.start, "Ctrl+Shift+F"
            ),
            "settings": self._action("settings", "&Settings…", self.settings_dialog, SK.Preferences),
            "heatmap_cycle": self._action("heatmap_cycle", "Cycle &heatmap", self.heatmap_panel.cycle, "U"),
            "shortcuts": self._action(
                "shortcuts", "&Keyboard shortcuts", self.show_shortcuts, SK.HelpContents
            ),
            "log_folder": self._action("log_folder", "Open &log folder", self.open_log_folder),
            "about": self._action("about", "&About", self.about),
        }

    def _build_menus_and_toolbar(self) -> None:
        a, bar = self.actions_by_name, self.menuBar()
        file_menu = bar.addMenu("&File")
        file_menu.addActions([a["new_project"], a["open"]])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addSeparator()
        file_menu.addActions([a["save"], a["import_labels"], a["export"]])
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        edit = bar.addMenu("&Edit")
        edit.addActions([a["undo"], a["redo"]])
        edit.addSeparator()
        edit.addActions([a["accept_prediction"], a["settings"]])
        view = bar.addMenu("&View")
        view.addActions([a[k] for k in ("zoom_in", "zoom_out", "fit", "actual_size")])
        view.addSeparator()
        view.addActions([a["toggle_overlay"], a["outline"], a["heatmap_cycle"]])
        self.panels_menu = view.addMenu("&Panels")
        for dock in self.docks.values():
            self.panels_menu.addAction(dock.toggleViewAction())
        tools = bar.addMenu("&Tools")
        tools.addActions([a[name] for name, *_ in TOOL_ACTIONS])
        tools.addSeparator()
        tools.addActions([a["brush_smaller"], a["brush_larger"]])
        image = bar.addMenu("&Image")
        image.addActions([a["reviewed_next"], a["next"], a["previous"]])
        model = bar.addMenu("&Model")
        model.addActions([a["load_model"], a["get_model"], a["presegment_all"], a["finetune"]])
        self.model_menu = model
        help_menu = bar.addMenu("&Help")
        help_menu.addActions([a["shortcuts"], a["log_folder"], a["about"]])
        build_main_toolbar(self, a)
        self.palette.hotkey_actions(self)

    def _wire(self) -> None:
        s, p, h = self.session, self.presegment, self.heatmaps
        s.message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        s.project_opened.connect(self._project_opened)
        s.project_closed.connect(lambda: self.setWindowTitle("DANet Annotator"))
        self.palette.class_selected.connect(self.canvas.set_current_class)
        self.palette.lock_changed.connect(self.canvas.set_lock_class)
        self.canvas.lock_cleared.connect(lambda: self.palette.lock_selector.set_lock(None))
        self.canvas.zoom_changed.connect(self.cursor_info.show_zoom)
        self.canvas.class_picked.connect(self.palette.set_current_index)
        p.model_status.connect(self.model_label.setText)
        p.batch_started.connect(lambda n: self.jobs.start("presegment", f"Pre-segmenting {n} images", n))
        p.batch_progress.connect(
            lambda d, t: self.jobs.update_progress("presegment", d, t, f"Pre-segmenting {d}/{t}")
        )
        p.batch_finished.connect(self._batch_finished)
        self.jobs.cancel_requested.connect(self._cancel_jobs)
        self.load_model_button.clicked.connect(self.load_model_dialog)
        self.get_model_button.clicked.connect(self.zoo.open_dialog)
        self.presegment_button.clicked.connect(p.start_batch)
        self.docks["cam"].visibilityChanged.connect(h.set_cam_visible)

    # -- slots --------------------------------------------------------------------------------------
    def _project_opened(self, project: Any) -> None:
        self.setWindowTitle(f"DANet Annotator — {project.project_dir.name} ({project.image_root})")
        self.palette.set_label_set(project.label_set)
        ids = self.image_list.visible_ids()
        if ids:
            self.session.open_image(ids[0])

    def _batch_finished(self, summary: Any) -> None:
        self.jobs.stop("presegment")
        text = f"Pre-segmented {summary.done - len(summary.failed)} of {summary.total} images"
        if summary.cancelled:
            text += " (cancelled)"
        self.statusBar().showMessage(text, 10000)
        if summary.failed:
            lines = "\n".join(f"image {i}: {msg}" for i, msg in summary.failed[:20])
            more = f"\n… and {len(summary.failed) - 20} more" if len(summary.failed) > 20 else ""
            QMessageBox.warning(
                self, "Pre-segmentation", f"{text}; {len(summary.failed)} failed:\n{lines}{more}"
            )

    def _cancel_jobs(self, key: str) -> None:
        if key == "presegment":
            self.presegment.cancel_batch()
        elif key == "export":
            self.exporter.cancel()
        elif key == "zoo":
            self.zoo.cancel()

    def show_error(self, message: str, details: str) -> None:
        self.statusBar().showMessage(message, 10000)
        show_error(self, message, details, str(logging_setup.log_file()))

    def open_path(self, path: str | Path, label_set: str | None = None) -> None:
        """Open a project folder, or an image folder's project (asking for its label set when new)."""
        from app.model.settings import default_project_dir, is_project_dir
        from danet_core.project.scan import has_images

        p = Path(path).expanduser()
        new_folder = p.is_dir() and not is_project_dir(p) and not is_project_dir(default_project_dir(p))
        if new_folder and not has_images(p):  # say so before asking for a label set
            self.show_error(f"No images found in {p}; choose a folder of images (sub-folders count too).", "")
            return
        if label_set is None and new_folder:
            dialog = NewProjectDialog(str(p), self.settings.default_label_set, self)
            if dialog.exec() != NewProjectDialog.DialogCode.Accepted:
                return
            p, label_set = dialog.values()
        try:
            self.session.open_path(p, label_set)
        except CatalogDamaged as exc:
            self.session.offer_rebuild(exc)
        except (OSError, ValueError) as exc:
            self.show_error(str(exc), "")

    def new_project(self) -> None:
        dialog = NewProjectDialog("", self.settings.default_label_set, self)
        if dialog.exec() == NewProjectDialog.DialogCode.Accepted:
            folder, label_set = dialog.values()
            self.open_path(folder, label_set)

    def open_dialog(self) -> None:
        d = QFileDialog.getExistingDirectory(self, "Open a project folder or an image folder")
        if d:
            self.open_path(d)

    def _fill_recent_menu(self) -> None:
        """Recent projects by the image folder the user chose (the project folder is internal)."""
        self.recent_menu.clear()
        entries = self.recent.existing()
        if not entries:
            self.recent_menu.addAction("(none)").setEnabled(False)
        for entry in entries:
            action = self.recent_menu.addAction(entry.label())
            action.setToolTip(str(entry.project_dir))
            action.triggered.connect(lambda _=False, e=entry.project_dir: self.open_path(e))

    def load_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Load a DANet checkpoint (native, official or mmsegmentation)",
            "",
            "Checkpoints (*.pt *.pth)",
        )
        if path:
            try:
                self.presegment.load_model_file(path)
            except ValueError as exc:
                self.show_error(str(exc), "")

    def _probe_devices(self) -> None:
        """Which devices exist (imports torch: in a worker, never on the GUI thread)."""
        worker = FunctionWorker(probe_devices, callbacks=False, name="probe devices")
        worker.finished.connect(self._devices_known)
        worker.failed.connect(lambda msg, _tb: log.warning("device probe failed: %s", msg))
        self._device_probe = worker
        worker.start()

    def _devices_known(self, devices: DeviceInfo) -> None:
        self.devices = devices
        self.finetune.set_devices(devices)

    def settings_dialog(self) -> None:
        devices = self.devices.choices() if self.devices is not None else ["cpu"]
        dialog = SettingsDialog(self.settings, devices, self)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted and dialog.result_settings is not None:
            self.apply_settings(dialog.result_settings)

    def apply_settings(self, settings: AppSettings) -> None:
        for key, value in settings.to_dict().items():
            setattr(self.settings, key, value)  # controllers share this object
        save_settings(self.settings)
        self.presegment.apply_settings(self.settings)

    def offer_last_project(self) -> bool:
        """At a launch without a path: offer the most recent project (app.controllers.preferences)."""
        return offer_last_project(self, self.recent, self.open_path)

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self.actions(), self).exec()

    def open_log_folder(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(logging_setup.log_dir())))

    def about(self) -> None:
        QMessageBox.about(
            self,
            "About DANet Annotator",
            "Semantic-segmentation labeling with a trainable DANet (Dual Attention Network, Fu et al., "
            f"CVPR 2019) in the loop.\n\nLog file: {logging_setup.log_file()}",
        )

    # -- shutdown -------------------------------------------------------------------------------------
    def closeEvent(self, event: QCloseEvent) -> None:
        try:
            self.session.close_project()
        except Exception as exc:  # noqa: BLE001 - saving failed: keep the window so nothing is lost
            log.exception("saving on close failed")
            self.show_error(f"Could not save before closing: {exc}", "")
            event.ignore()
            return
        remember_preferences(
            self.settings,
            self.canvas,
            self.image_list,
            self.finetune_panel,
            self.opacity_slider,
            self.heatmap_panel,
        )
        try:
            save_settings(self.settings)
        except OSError as exc:
            log.warning("could not save settings: %s", exc)
        save_window_layout(self)
        shutdown_all(5000)
        super().closeEvent(event)
