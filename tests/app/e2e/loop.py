"""The labeling loop as a new user walks it, step by step, through the main window's own actions and
dialogs. Shared by the offscreen end-to-end test (test_labeling_loop.py) and the script that takes the
real-window screenshots of docs/loop-*.png (packaging/loop_screenshots.py), so both show the same loop.

Each step takes ``wait(predicate, timeout_s)`` (qtbot.waitUntil in the test, an event-loop pump in the
script) and returns what the next steps need.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

Wait = Callable[[Callable[[], object], float], None]


def make_image_folder(camvid_root: Path, out: Path, n: int, size: tuple[int, int] | None) -> list[str]:
    """``n`` CamVid val frames (optionally resized) and, beside them, their ground truth as CamVid ships it
    (export ids, 11 = void: what the mask importer reads for a camvid project)."""
    names = sorted(p.name for p in (camvid_root / "val").glob("*.png"))[::6][:n]
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "ground_truth").mkdir(parents=True, exist_ok=True)
    for name in names:
        img = Image.open(camvid_root / "val" / name).convert("RGB")
        gt = Image.open(camvid_root / "valannot" / name)
        if size is not None:
            img, gt = img.resize(size, Image.BILINEAR), gt.resize(size, Image.NEAREST)
        img.save(out / "images" / name)
        gt.save(out / "ground_truth" / name)
    return names


def create_project(window, folder: Path, wait: Wait) -> None:
    """File > Open on an image folder (the label-set question answered "camvid")."""
    window.open_path(folder, "camvid")
    wait(lambda: window.session.image_id is not None, 60)


def import_ground_truth(window, gt_folder: Path, names: list[str], wait: Wait) -> object:
    """File > Import labels…: the folder, the preview, status "reviewed", Import; returns the report."""
    importer = window.controller("import")
    only = gt_folder.parent / "gt_subset"
    only.mkdir(exist_ok=True)
    for name in names:
        (only / name).write_bytes((gt_folder / name).read_bytes())
    dialog = importer.open_dialog()
    dialog.folder.setText(str(only))
    dialog.inspect_folder()
    wait(lambda: dialog.inspection is not None and not dialog.checking, 60)
    reports: list[object] = []
    importer.finished.connect(reports.append)
    dialog.buttons.accepted.emit()
    wait(lambda: bool(reports), 120)
    return reports[0]


def fine_tune(window, wait: Wait, *, iters: int, crop: int = 64) -> int:
    """Model > Fine-tune with a tiny budget (advanced settings); returns the new active version."""
    ctrl = window.finetune
    wait(lambda: window.devices is not None, 60)  # the start-up device probe (torch, in a worker)
    s = ctrl.panel.settings
    s.setChecked(True)
    s.crop.setValue(crop)
    s.batch.setValue(2)
    s.iters.setValue(iters)
    s.minutes.setValue(0.0)
    s.val_fraction.setValue(0.34)
    s.device.setCurrentText("cpu")
    activated: list[int] = []
    ctrl.model_activated.connect(activated.append)
    t0 = time.perf_counter()
    started = ctrl.start()
    print(f"\nFine-tune click to child started: {1000 * (time.perf_counter() - t0):.0f} ms on the GUI thread")
    if not started:
        raise AssertionError(f"the fine-tune did not start: {ctrl.panel.summary.text()}")
    wait(lambda: bool(activated), 900)
    return activated[0]


def wait_for_predictions(window, wait: Wait) -> None:
    """The new model pre-segments the images that are not reviewed (in the background)."""
    pre = window.presegment
    wait(lambda: pre.has_model() and not pre.queue.is_busy(), 600)


def open_first_unreviewed(window, wait: Wait) -> int:
    session = window.session
    target = next(r.id for r in session.queue.records() if str(r.status) != "reviewed")
    if session.image_id != target:
        session.open_image(target)
        wait(lambda: session.image_id == target and session.document is not None, 60)
    wait(lambda: session.confidence is not None, 600)  # its prediction is on the canvas
    return target


def correct_with_the_brush(window, x: float, y: float, class_index: int) -> None:
    canvas = window.canvas
    canvas.set_tool("brush")
    canvas.set_brush_size(11)
    window.palette.set_current_index(class_index)
    QTest.mouseClick(canvas.viewport(), Qt.MouseButton.LeftButton, pos=canvas.mapFromScene(QPointF(x, y)))


def mark_reviewed_and_next(window, wait: Wait) -> None:
    session = window.session
    before = session.image_id
    window.actions_by_name["reviewed_next"].trigger()
    wait(lambda: session.image_id != before, 60)


def export_cityscapes(window, out: Path, wait: Wait) -> object:
    """File > Export labels…: Cityscapes, the camvid mapping the dialog proposes; returns the reports."""
    exporter = window.exporter
    dialog = exporter.make_dialog()
    for fmt, box in dialog.format_boxes.items():
        box.setChecked(fmt == "cityscapes")
    dialog.folder.setText(str(out))
    assert dialog.unmapped() == [], dialog.unmapped()
    done: list[object] = []
    exporter.finished.connect(done.append)
    dialog.buttons.accepted.emit()  # OK
    assert dialog.plan is not None, dialog.unmapped_label.text()
    exporter.remember(dialog.settings())
    exporter.start(dialog.plan)
    wait(lambda: bool(done), 300)
    return done[0]
