"""Desktop-app basics: open an image folder by path (predictable project place), recent projects,
lazy thumbnails and filters of the image list, export through the dialog's controller, shortcuts help,
window layout remembered, importing a checkpoint into the project."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from app.model.settings import AppSettings, RecentProjects, default_project_dir
from danet_core.project import ImageStatus, Project

pytestmark = pytest.mark.gui


def test_open_image_folder_creates_project_in_the_documented_place(qtbot, window, camvid_small):
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=20_000):
        window.open_path(camvid_small, "camvid")
    expected = default_project_dir(camvid_small)
    assert session.project.project_dir == expected
    assert not any(p.is_dir() for p in camvid_small.iterdir())  # nothing written into the image folder
    assert RecentProjects.load().entries[0].project_dir == expected.resolve()
    assert RecentProjects.load().entries[0].image_root == camvid_small.resolve()
    session.close_project()
    # the same folder again reopens that project (no dialog, no second project)
    with qtbot.waitSignal(session.image_opened, timeout=20_000):
        window.open_path(camvid_small)
    assert session.project.project_dir == expected
    assert session.project.label_set.name == "camvid"


def test_open_path_rejects_a_file_with_one_message(qtbot, window, camvid_small, messages):
    some_file = next(camvid_small.iterdir())
    window.open_path(some_file, "camvid")
    assert len(messages) == 1 and str(some_file) in messages[0][0] and "expected" in messages[0][0]


def test_image_list_thumbnails_are_lazy_and_filters_work(qtbot, window, project_dir):
    session = window.controller("session")
    asked: list[list[int]] = []
    window.image_list.thumbnails_needed.connect(asked.append)
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    model = window.image_list.model
    ids = window.image_list.visible_ids()
    qtbot.waitUntil(lambda: all(model.has_thumbnail(i) for i in ids), timeout=10_000)
    assert sorted({i for batch in asked for i in batch}) == sorted(ids)
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.mark_reviewed_and_next()
    panel = window.image_list
    panel.set_status_filter("Reviewed")
    assert panel.visible_ids() == [ids[0]]
    panel.set_status_filter("Not reviewed")
    assert panel.visible_ids() == ids[1:]
    panel.set_status_filter("All images")
    panel.search.setText(model.record(ids[2]).rel_path[-8:])
    assert panel.visible_ids() == [ids[2]]


def test_export_writes_the_reviewed_masks(qtbot, window, project_dir, tmp_path, messages):
    session, export = window.controller("session"), window.controller("export")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    first = session.image_id
    # the whole mask becomes Building (index 1) through the same undo path the tools use
    from app.model.edit_ops import MaskEdit

    doc = session.document
    after = np.full_like(doc.mask, 1)
    window.canvas.push_edit(MaskEdit(0, 0, doc.mask.copy(), after), "fill", applied=False)
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.mark_reviewed_and_next()
    out = tmp_path / "export"
    with qtbot.waitSignal(export.finished, timeout=30_000) as blocker:
        export.export(["mask", "palette"], out)
    reports = dict(blocker.args[0])
    assert reports["mask"].done == 1 and reports["palette"].done == 1
    name = session.project.record(first).rel_path
    exported = np.asarray(Image.open(out / "mask" / name))
    assert (exported == 1).all()  # CamVid export id of Building
    assert Image.open(out / "palette" / name).mode == "P"
    assert any(title == "Export finished" for title, _ in messages)
    qtbot.waitUntil(lambda: not window.jobs.isVisible(), timeout=5_000)


def test_shortcuts_help_lists_standard_and_app_keys(qtbot, window):
    from app.widgets.dialogs import ShortcutsDialog

    dialog = ShortcutsDialog(window.actions(), window)
    qtbot.addWidget(dialog)
    rows = {
        dialog.table.item(r, 0).text(): dialog.table.item(r, 1).text() for r in range(dialog.table.rowCount())
    }
    assert rows["Mark reviewed and go to next"].startswith("Ctrl+Return")
    assert rows["Brush"] == "B" and rows["Keyboard shortcuts"] == "F1"
    assert "Ctrl+S" in rows["Save mask"]
    dialog.search.setText("brush")
    shown = [
        dialog.table.item(r, 0).text()
        for r in range(dialog.table.rowCount())
        if not dialog.table.isRowHidden(r)
    ]
    assert shown and all("brush" in s.lower() for s in shown)


def test_window_layout_is_remembered(qtbot, messages):
    from app.main_window import MainWindow
    from app.model.settings import AppSettings

    w = MainWindow(settings=AppSettings(), recent=RecentProjects.load())
    qtbot.addWidget(w)
    w.show()
    w.docks["heatmaps"].hide()
    w.docks["cam"].show()
    w.close()
    w2 = MainWindow(settings=AppSettings(), recent=RecentProjects.load())
    qtbot.addWidget(w2)
    w2.show()
    assert not w2.docks["heatmaps"].isVisible()
    assert w2.docks["cam"].isVisible()


def test_load_model_file_imports_into_the_project_and_presegments(
    qtbot, window, project_dir, tiny_checkpoint
):
    session, pre = window.controller("session"), window.controller("presegment")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    assert pre.predictor is None and "No model" in window.model_label.text()
    with qtbot.waitSignal(pre.prediction_ready, timeout=60_000):
        pre.load_model_file(tiny_checkpoint)
    with Project.open(project_dir) as p:
        versions = p.model_versions()
        assert len(versions) == 1 and p.active_model_version().id == versions[0].id
        assert versions[0].path.parent == project_dir / "models"
        assert p.record(session.image_id).status == ImageStatus.PRESEGMENTED
    assert json.loads(json.dumps(versions[0].metrics))["imported_from"] == str(tiny_checkpoint)


def test_load_model_file_with_a_broken_checkpoint_says_so(qtbot, window, project_dir, tmp_path, messages):
    session, pre = window.controller("session"), window.controller("presegment")
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_project(project_dir)
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    pre.load_model_file(bad)
    qtbot.waitUntil(lambda: len(messages) > 0, timeout=20_000)
    assert "bad.pt" in messages[0][0]
    assert pre.predictor is None and "No model" in window.model_label.text()


def test_settings_rebuild_the_predictor_with_window_and_precision(qtbot, window, project_with_model):
    from app.model.settings import load_settings

    session, pre = window.controller("session"), window.controller("presegment")
    with qtbot.waitSignal(pre.prediction_ready, timeout=60_000):
        session.open_project(project_with_model)
    new = AppSettings(precision="bf16", mode="slide", crop=128, stride=96, autosave_delay_ms=300, prefetch=1)
    window.apply_settings(new)
    qtbot.waitUntil(lambda: pre.predictor is not None and pre.predictor.whole.mode == "slide", timeout=60_000)
    assert pre.predictor.whole.precision == "bf16" and pre.predictor.whole.crop == (128, 128)
    assert load_settings().mode == "slide"  # remembered
    assert pre.model_version is not None and "Model version" in window.model_label.text()
