"""File ▸ Import labels… with real CamVid ground truth (valannot, plain 8-bit masks, void = 11): the dialog's
dry run in a worker (format guessed, matched / unmatched / existing), keep or replace as an explicit
choice, the import in a worker, masks on disk and statuses in the list, the open image reopened or asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPointF, Qt

from app.model.import_preview import request_from
from danet_core.project import ImageStatus, Project

pytestmark = pytest.mark.gui


@pytest.fixture
def ground_truth(tmp_path: Path, camvid_small: Path, camvid_root: Path) -> Path:
    """valannot masks of the first three images (resized like the images, nearest) and one of no image."""
    folder = tmp_path / "valannot"
    folder.mkdir()
    names = sorted(p.name for p in camvid_small.iterdir())[:3]
    size = Image.open(camvid_small / names[0]).size
    for name, target in [*zip(names, names, strict=True), (names[0], "zzz_unmatched.png")]:
        Image.open(camvid_root / "valannot" / name).resize(size, Image.NEAREST).save(folder / target)
    return folder


def _open(qtbot, window, project_dir: Path) -> None:
    with qtbot.waitSignal(window.session.image_opened, timeout=10_000):
        window.session.open_project(project_dir)


def _paint(qtbot, window, x: float, y: float, cls: int) -> None:
    window.canvas.set_tool("brush")
    window.canvas.set_brush_size(9)
    window.palette.set_current_index(cls)
    pos = window.canvas.mapFromScene(QPointF(x, y))
    qtbot.mouseClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _expected(project: Project, folder: Path, rel_path: str) -> np.ndarray:
    lut, _known = project.label_set.import_lut()
    return lut[np.asarray(Image.open(folder / Path(rel_path).name))]


def _preview(qtbot, window, folder: Path):
    importer = window.controller("import")
    qtbot.waitUntil(lambda: importer.slot.worker is None, timeout=10_000)  # an import before has ended
    dialog = importer.open_dialog()
    dialog.folder.setText(str(folder))
    with qtbot.waitSignal(importer.inspected, timeout=20_000) as blocker:
        dialog.inspect_folder()
        assert not dialog.import_button.isEnabled()  # the dry run runs in a worker, Import waits for it
    return importer, dialog, blocker.args[0]


def test_import_keeps_the_edited_mask_unless_replace_is_chosen(
    qtbot, window, project_dir, ground_truth, messages
):
    _open(qtbot, window, project_dir)
    session = window.session
    edited_id = session.image_id
    _paint(qtbot, window, 80, 60, cls=8)  # Car on the first image: an edited mask
    assert session.save_current()
    edited = session.document.mask.copy()
    importer, dialog, inspection = _preview(qtbot, window, ground_truth)
    assert dialog.format.currentData() == "mask" and "single-channel" in dialog.guess.text()
    text = dialog.summary.toPlainText()
    assert text.startswith("3 of 4 files match project images; 1 match none.")
    assert "zzz_unmatched.png: no project image named zzz_unmatched.*" in text
    assert dialog.existing.isVisibleTo(dialog) and "1 in progress" in dialog.existing_question.text()
    assert not dialog.import_button.isEnabled()  # keep or replace must be chosen
    assert dialog.minimumSizeHint().height() < 700 and dialog.minimumSizeHint().width() < 1300
    dialog.keep.setChecked(True)
    assert dialog.import_button.isEnabled()
    with qtbot.waitSignal(importer.finished, timeout=30_000) as blocker:
        dialog.import_button.click()
    report = blocker.args[0]
    assert report.done == 2 and report.details["kept_existing"] == [
        window.session.project.record(edited_id).rel_path
    ]
    project = session.project
    for m in inspection.preview.matched:
        record = window.queue.record(m.image_id)
        if m.image_id == edited_id:
            np.testing.assert_array_equal(project.load_mask(m.image_id), edited)
            assert record.status == ImageStatus.IN_PROGRESS
        else:
            np.testing.assert_array_equal(
                project.load_mask(m.image_id), _expected(project, ground_truth, m.rel_path)
            )
            assert record.status == ImageStatus.REVIEWED
    title, summary = messages[-1]
    assert title == "Import finished" and summary.startswith("Imported 2 masks as reviewed.")
    assert "Kept the existing mask of 1 images." in summary and "1 files matched no project image" in summary
    np.testing.assert_array_equal(session.document.mask, edited)  # the open image was not touched

    # again, choosing replace: the open image gets the ground truth and is reopened to show it
    importer, dialog, inspection = _preview(qtbot, window, ground_truth)
    assert len(inspection.preview.existing) == 3
    dialog.replace.setChecked(True)
    with qtbot.waitSignal(session.image_opened, timeout=30_000):
        dialog.import_button.click()
    truth = _expected(project, ground_truth, project.record(edited_id).rel_path)
    np.testing.assert_array_equal(project.load_mask(edited_id), truth)
    np.testing.assert_array_equal(session.document.mask, truth)
    assert window.queue.record(edited_id).status == ImageStatus.REVIEWED
    copies = list((project_dir / "conflicts").glob(f"{edited_id}-replaced-*.png"))
    assert copies and any(np.array_equal(np.asarray(Image.open(c)), edited) for c in copies)


def test_edits_made_during_the_import_are_a_question(qtbot, window, project_dir, ground_truth, messages):
    window.settings.autosave_delay_ms = 60_000  # only the question can save here
    _open(qtbot, window, project_dir)
    session = window.session
    image_id = session.image_id
    importer, dialog, inspection = _preview(qtbot, window, ground_truth)
    assert not inspection.preview.existing and dialog.import_button.isEnabled()
    dialog.reject()
    asked: list[str] = []
    session.choose_conflict = lambda text: asked.append(text) or "theirs"
    with qtbot.waitSignal(session.image_opened, timeout=30_000):
        assert importer.start_import(request_from(inspection, ImageStatus.REVIEWED, None))
        _paint(qtbot, window, 40, 30, cls=8)  # while the worker imports
        assert session.document.is_modified
    assert len(asked) == 1 and "changed on disk" in asked[0]
    project = session.project
    truth = _expected(project, ground_truth, project.record(image_id).rel_path)
    np.testing.assert_array_equal(session.document.mask, truth)  # theirs: the imported mask is shown
    mine = list((project_dir / "conflicts").glob(f"{image_id}-mine-*.png"))
    assert len(mine) == 1 and np.asarray(Image.open(mine[0]))[30, 40] == 8  # the stroke is kept


def test_import_needs_a_project_and_cancel_keeps_what_was_imported(
    qtbot, window, project_dir, ground_truth, messages, monkeypatch
):
    import time

    import app.controllers.importer as importer_module
    from danet_core.formats import import_labels

    assert window.controller("import").open_dialog() is None
    assert messages[-1] == ("Import labels", "Open a project first.")
    _open(qtbot, window, project_dir)

    def slow_import(*args, progress, should_stop, **kwargs):
        def wait_for_cancel(done: int, total: int, message: str) -> None:
            progress(done, total, message)
            deadline = time.monotonic() + 20
            while not should_stop() and time.monotonic() < deadline:
                time.sleep(0.01)

        return import_labels(*args, progress=wait_for_cancel, should_stop=should_stop, **kwargs)

    monkeypatch.setattr(importer_module, "import_labels", slow_import)
    importer, dialog, inspection = _preview(qtbot, window, ground_truth)
    dialog.reject()
    assert importer.start_import(request_from(inspection, ImageStatus.IN_PROGRESS, None))
    assert "import" in window.jobs.running()
    first = window.session.project.mask_path(inspection.preview.matched[0].image_id)
    qtbot.waitUntil(first.exists, timeout=10_000)  # the worker waits after its first file
    with qtbot.waitSignal(importer.cancelled, timeout=30_000):
        window.jobs.cancel_requested.emit("import")  # the status bar's cancel button
    qtbot.waitUntil(lambda: importer.slot.worker is None, timeout=10_000)
    assert "import" not in window.jobs.running()
    assert messages[-1][0] == "Import cancelled"
    statuses = [window.queue.record(m.image_id).status for m in inspection.preview.matched]
    assert statuses[0] == ImageStatus.IN_PROGRESS and statuses[1:] == [ImageStatus.NEW, ImageStatus.NEW]
