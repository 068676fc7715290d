"""What the window remembers between launches, and the offer to reopen the last project.

Remembered in the settings file (``app.model.settings.AppSettings``): overlay and heatmap opacity, the
image list's order, the brush size, and the fine-tune panel's advanced overrides (while they are on).
Decision: the last project is offered, not reopened silently, at a launch without a path — the user may
have switched datasets; "No" leaves the usual start screen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QSlider, QWidget

from app.model.settings import AppSettings, RecentProjects
from app.widgets.canvas import CanvasView
from app.widgets.finetune_panel import FinetunePanel
from app.widgets.heatmap_panel import HeatmapPanel
from app.widgets.image_list import ImageListPanel
from danet_core.training.finetune_plan import FinetunePlan

log = logging.getLogger(__name__)


def restore_preferences(
    settings: AppSettings, canvas: CanvasView, image_list: ImageListPanel, finetune: FinetunePanel
) -> None:
    canvas.set_brush_size(settings.brush_size)
    image_list.set_order(settings.list_order)
    if settings.finetune_overrides:
        try:
            plan = FinetunePlan.from_dict(settings.finetune_overrides)
        except (TypeError, ValueError) as exc:
            log.warning("ignoring the saved fine-tune settings: %s", exc)
            return
        finetune.settings.show_plan(plan)
        finetune.settings.setChecked(True)


def remember_preferences(
    settings: AppSettings,
    canvas: CanvasView,
    image_list: ImageListPanel,
    finetune: FinetunePanel,
    opacity: QSlider,
    heatmaps: HeatmapPanel,
) -> None:
    settings.overlay_opacity = opacity.value() / 100.0
    settings.heatmap_opacity = heatmaps.opacity_value()
    settings.brush_size = int(canvas.brush_size())
    settings.list_order = image_list.order()
    try:
        settings.finetune_overrides = (
            finetune.settings.plan().to_dict() if finetune.settings.is_overriding() else None
        )
    except ValueError as exc:  # half-edited overrides are not worth an error at exit
        log.info("fine-tune overrides not saved: %s", exc)


def offer_last_project(parent: QWidget, recent: RecentProjects, open_path: Callable[[Path], None]) -> bool:
    """Ask whether to reopen the most recent project; True when it was opened."""
    last = recent.last()
    if last is None:
        return False
    reply = QMessageBox.question(parent, "DANet Annotator", f"Reopen the last project?\n\n{last.label()}")
    if reply != QMessageBox.StandardButton.Yes:
        return False
    open_path(last.project_dir)
    return True
