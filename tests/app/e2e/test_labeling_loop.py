"""The whole labeling loop in the main window, on real CamVid images, offscreen (issue 10):
create a project from a folder, import ground truth for some images in the window, fine-tune (tiny
budget), see predictions on the others, correct one, mark it reviewed, export Cityscapes with the camvid
mapping from the Export dialog, and check the export with cityscapesScripts' json2labelImg."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.app.e2e import loop

pytestmark = [pytest.mark.gui, pytest.mark.timeout(900)]
json2labelImg = pytest.importorskip("cityscapesscripts.preparation.json2labelImg")

N_IMAGES, N_GROUND_TRUTH = 8, 6


def test_the_whole_loop_in_the_window(qtbot, window, camvid_root: Path, tmp_path: Path, messages) -> None:
    def wait(predicate, timeout_s: float) -> None:
        qtbot.waitUntil(lambda: bool(predicate()), timeout=int(timeout_s * 1000))

    names = loop.make_image_folder(camvid_root, tmp_path / "camvid", N_IMAGES, (160, 120))
    # 1. a project from an image folder
    loop.create_project(window, tmp_path / "camvid" / "images", wait)
    project = window.session.project
    assert project is not None and project.label_set.name == "camvid" and len(project.images()) == N_IMAGES
    # 2. ground truth for some images, imported in the window
    report = loop.import_ground_truth(
        window, tmp_path / "camvid" / "ground_truth", names[:N_GROUND_TRUTH], wait
    )
    assert report.done == N_GROUND_TRUTH and report.ok, report.summary()
    reviewed = [r for r in project.images() if str(r.status) == "reviewed"]
    assert len(reviewed) == N_GROUND_TRUTH
    # 3. fine-tune (tiny budget); the new model becomes active (asked: too few held-out images)
    version = loop.fine_tune(window, wait, iters=6)
    assert project.active_model_version().id == version
    assert any("not made active by itself" in t for _, t in messages) or window.finetune.last_comparison
    # 4. predictions on the others
    loop.wait_for_predictions(window, wait)
    others = [r for r in project.images() if str(r.status) != "reviewed"]
    assert others and all(r.has_prediction and r.model_version == version for r in others)
    # 5. correct one, mark it reviewed
    target = loop.open_first_unreviewed(window, wait)
    loop.correct_with_the_brush(window, 60, 60, 3)
    assert window.session.document.mask[60, 60] == 3
    loop.mark_reviewed_and_next(window, wait)
    assert str(project.record(target).status) == "reviewed" and project.load_mask(target)[60, 60] == 3
    # 6. export Cityscapes with the camvid mapping, from the dialog
    out = tmp_path / "export"
    results = loop.export_cityscapes(window, out, wait)
    ((job, cs_report),) = results
    assert cs_report.done == N_GROUND_TRUTH + 1 and cs_report.ok, cs_report.summary()
    _check_with_cityscapes_scripts(out, tmp_path, project)


def _check_with_cityscapes_scripts(out: Path, tmp: Path, project) -> None:
    from danet_core.formats.cityscapes_labels import cityscapes_id_lut, load_mapping

    lut = cityscapes_id_lut(project.label_set, load_mapping("camvid"))
    by_source = {
        row.split(",")[0]: row.split(",")[3] for row in (out / "mapping.csv").read_text().splitlines()[1:]
    }
    agreements = []
    for rec in project.images(status="reviewed"):
        stem = by_source[rec.rel_path]
        label_ids = next(out.glob(f"gtFine/*/*/{stem}_gtFine_labelIds.png"))
        exported = np.asarray(Image.open(label_ids))
        np.testing.assert_array_equal(exported, lut[project.load_mask(rec.id)])  # the mask, mapped exactly
        drawn_path = tmp / f"j2l_{stem}.png"
        json2labelImg.json2labelImg(
            str(label_ids).replace("labelIds.png", "polygons.json"), str(drawn_path), "ids"
        )
        agreements.append(float((np.asarray(Image.open(drawn_path)) == exported).mean()))
    print(f"\njson2labelImg agreement with labelIds per image: {[round(a, 5) for a in agreements]}")
    assert min(agreements) >= 0.99, agreements
