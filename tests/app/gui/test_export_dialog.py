"""File > Export labels from the window: a CamVid project exported to Cityscapes through the dialog with
the proposed camvid mapping (checked with cityscapesScripts' json2labelImg), the settings remembered in
the project, and a label set with classes Cityscapes does not have refused until they are mapped."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QDialogButtonBox

from app.model.export_settings import SETTINGS_FILE
from app.widgets.export_dialog import ExportDialog
from danet_core.formats.cityscapes_labels import CAMVID_TO_CITYSCAPES, cityscapes_id_lut
from danet_core.labels import LabelSet, get_label_set
from danet_core.project import Project

pytestmark = pytest.mark.gui
json2labelImg = pytest.importorskip("cityscapesscripts.preparation.json2labelImg")

OK = QDialogButtonBox.StandardButton.Ok


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


@pytest.fixture
def reviewed_camvid(project_dir: Path, camvid_root: Path) -> Path:
    """The 4-image CamVid project with each image's real CamVid mask (nearest-resized), reviewed."""
    with Project.open(project_dir) as project:
        to_index, _known = project.label_set.import_lut()  # CamVid void 11 -> unlabeled 255
        for rec in project.images():
            annot = Image.open(camvid_root / "valannot" / Path(rec.rel_path).name)
            w, h = project.image_size(rec.id)
            mask = to_index[np.asarray(annot.resize((w, h), Image.NEAREST))]
            project.save_mask(rec.id, mask, status="reviewed")
    return project_dir


def _open(qtbot, window, project_dir: Path) -> tuple:
    """Open ``project_dir`` in the window; (session, export) controllers."""
    session, export = window.controller("session"), window.controller("export")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    return session, export


def _run_dialog(qtbot, monkeypatch, export, steps: Callable[[ExportDialog], None]) -> ExportDialog:
    """Open File > Export labels as the menu does and run ``steps`` on the dialog inside its event loop;
    the dialog is rejected if the steps leave it open, so a failing test never blocks."""
    made: list[ExportDialog] = []
    make = export.make_dialog
    monkeypatch.setattr(export, "make_dialog", lambda: made.append(make()) or made[-1])

    def drive() -> None:
        dialog = made[-1]
        try:
            steps(dialog)
        finally:
            if dialog.isVisible():
                dialog.reject()

    QTimer.singleShot(0, drive)
    export.open_dialog()
    return made[-1]


def test_camvid_project_exports_to_cityscapes_from_the_dialog(
    qtbot, monkeypatch, window, reviewed_camvid, tmp_path, messages
):
    session, export = _open(qtbot, window, reviewed_camvid)
    out = tmp_path / "cs-out"
    seen: dict[str, object] = {}

    def steps(dialog: ExportDialog) -> None:
        assert not dialog.unmapped() and dialog.chosen_mapping() == CAMVID_TO_CITYSCAPES
        seen["origins"] = {dialog.table.item(r, 2).text() for r in range(dialog.table.rowCount())}
        seen["size"] = (dialog.width(), dialog.height())
        for fmt, box in dialog.format_boxes.items():
            box.setChecked(fmt == "cityscapes")
        dialog.folder.setText(str(out))
        dialog.split.setCurrentText("train=0.5,val=0.5")
        dialog.city.setText("camvid")
        dialog.buttons.button(OK).click()

    with qtbot.waitSignal(export.finished, timeout=60_000) as blocker:
        dialog = _run_dialog(qtbot, monkeypatch, export, steps)
    assert dialog.result() == ExportDialog.DialogCode.Accepted
    assert seen["origins"] == {"built-in camvid mapping"}
    assert seen["size"][0] <= 1366 and seen["size"][1] <= 768 - 40  # fits a 1366x768 screen
    ((fmt, report),) = blocker.args[0]
    assert fmt == "cityscapes" and report.done == 4 and report.ok, report.summary()

    # the files: labelIds = the camvid mapping of the masks; json2labelImg redraws them exactly
    lut = cityscapes_id_lut(get_label_set("camvid"), CAMVID_TO_CITYSCAPES)
    rows = (out / "mapping.csv").read_text().splitlines()[1:]
    assert len(rows) == 4 and {r.split(",")[2] for r in rows} == {"camvid"}
    project = session.project
    for row in rows:
        source, split, city, stem = row.split(",")
        gt = out / "gtFine" / split / city / f"{stem}_gtFine_"
        label_ids = _png(Path(f"{gt}labelIds.png"))
        assert np.array_equal(label_ids, lut[project.load_mask(project.find(source).id)])
        drawn = tmp_path / f"{stem}_j2l.png"
        json2labelImg.json2labelImg(f"{gt}polygons.json", str(drawn), "ids")
        assert np.array_equal(_png(drawn), label_ids)
        assert (out / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png").is_file()

    # the summary says where the files went; the choices are remembered in the project
    ((title, text),) = [m for m in messages if m[0] == "Export finished"]
    assert f"cityscapes: 4 image(s) exported to {out}" in text and "by split:" in text
    saved = json.loads((reviewed_camvid / SETTINGS_FILE).read_text())
    assert saved["folder"] == str(out) and saved["formats"] == ["cityscapes"]
    assert saved["cityscapes"] == {
        "split": "train=0.5,val=0.5",
        "city": "camvid",
        "mapping": CAMVID_TO_CITYSCAPES,
    }
    again = export.make_dialog()
    qtbot.addWidget(again)
    assert again.folder.text() == str(out) and again.split.currentText() == "train=0.5,val=0.5"
    assert again.city.text() == "camvid" and not again.format_boxes["labelme"].isChecked()
    qtbot.waitUntil(lambda: not window.jobs.isVisible(), timeout=5_000)


@pytest.fixture
def street_project(tmp_path: Path, camvid_small: Path) -> Path:
    """The CamVid frames in a project whose label set has two classes Cityscapes lacks (Lamp, Animal)."""
    labels = LabelSet.from_dict(
        {
            "name": "street",
            "classes": [
                {"name": "Road", "color": "#804080"},
                {"name": "Car", "color": "#00008e"},
                {"name": "Lamp", "color": "#ffff80"},
                {"name": "Animal", "color": "#40ff40"},
            ],
        }
    )
    labels.save(tmp_path / "street.json")
    pdir = tmp_path / "street-project"
    with Project.create(pdir, camvid_small, tmp_path / "street.json") as project:
        for rec in project.images():
            w, h = project.image_size(rec.id)
            mask = (np.arange(w)[None, :] * 4 // w).repeat(h, 0).astype(np.uint8)  # 4 vertical bands
            project.save_mask(rec.id, mask, status="reviewed")
    return pdir


def test_an_unmapped_class_blocks_the_export_until_it_is_mapped(
    qtbot, monkeypatch, window, street_project, tmp_path, messages
):
    session, export = _open(qtbot, window, street_project)
    out = tmp_path / "street-out"
    seen: dict[str, object] = {}

    def steps(dialog: ExportDialog) -> None:
        assert dialog.unmapped() == ["Lamp", "Animal"]
        assert "2 unmapped" in dialog.unmapped_label.text()
        lamp = dialog.table.item(2, 0)
        seen["highlighted"] = (
            lamp.background().color().name() != dialog.table.item(0, 0).background().color().name()
        )
        dialog.folder.setText(str(out))
        dialog.buttons.button(OK).click()  # refused: the dialog stays open with one message
        seen["refused"] = (dialog.isVisible(), list(messages), out.exists())
        dialog.set_target("Lamp", "pole")
        dialog.buttons.button(OK).click()  # still Animal
        seen["still"] = dialog.isVisible()
        dialog.set_target("Animal", "unlabeled")
        assert dialog.unmapped() == [] and "All 4 classes mapped" in dialog.unmapped_label.text()
        dialog.buttons.button(OK).click()

    with qtbot.waitSignal(export.finished, timeout=60_000) as blocker:
        _run_dialog(qtbot, monkeypatch, export, steps)
    assert seen["highlighted"]
    visible, refusals, written = seen["refused"]
    assert visible and not written
    assert refusals == [("Export", refusals[0][1])] and "Lamp, Animal" in refusals[0][1]
    assert "'unlabeled'" in refusals[0][1] and seen["still"]
    ((fmt, report),) = blocker.args[0]
    assert report.done == 4 and report.ok
    ids = _png(next((out / "gtFine").rglob("*_labelIds.png")))
    assert set(np.unique(ids).tolist()) == {0, 7, 17, 26}  # road, car, Lamp -> pole, Animal -> unlabeled
    saved = json.loads((street_project / SETTINGS_FILE).read_text())["cityscapes"]["mapping"]
    assert saved == {"Road": "road", "Car": "car", "Lamp": "pole", "Animal": "unlabeled"}
    qtbot.waitUntil(lambda: not window.jobs.isVisible(), timeout=5_000)


def test_programmatic_export_of_an_unmapped_set_is_one_error(qtbot, window, street_project, tmp_path):
    _session, export = _open(qtbot, window, street_project)
    with qtbot.waitSignal(export.error, timeout=5_000) as blocker:
        export.export(["cityscapes"], tmp_path / "never")
    assert "Lamp, Animal" in blocker.args[0] and not (tmp_path / "never").exists()


def test_a_broken_settings_file_is_named_in_the_dialog(qtbot, window, street_project):
    _session, export = _open(qtbot, window, street_project)
    (street_project / SETTINGS_FILE).write_text('{"formats": "cityscapes"')
    dialog = export.make_dialog()
    qtbot.addWidget(dialog)
    note = dialog.findChildren(type(dialog.unmapped_label))
    assert any(str(street_project / SETTINGS_FILE) in label.text() for label in note)
    assert dialog.format_boxes["cityscapes"].isChecked() and dialog.unmapped() == ["Lamp", "Animal"]
