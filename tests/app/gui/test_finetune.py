"""One-click fine-tune in the real window, on real CamVid images and their real masks.

A tiny DANet-18 (random init, the project's first model version) is fine-tuned in a child process for a
few iterations on 64 px crops of 160 x 120 frames, so a whole run takes seconds. Checked: the run
completes, curves get points, the new version is compared and made active and then pre-segments the
unreviewed images; cancel stops cleanly with a checkpoint; a killed child leaves the app usable and the
previous model active; the review queue follows uncertainty.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")

pytestmark = pytest.mark.gui

SIZE = (160, 120)
N_IMAGES = 8
N_REVIEWED = 6


@pytest.fixture
def finetune_project(tmp_path: Path, camvid_root: Path, tiny_checkpoint: Path) -> Path:
    """8 real CamVid train frames; the first 6 reviewed with their real (downscaled) masks; model v1."""
    from danet_core.project import ImageStatus, Project

    images = tmp_path / "images"
    images.mkdir()
    names = sorted(p.name for p in (camvid_root / "train").glob("*.png"))[::40][:N_IMAGES]
    for name in names:
        Image.open(camvid_root / "train" / name).convert("RGB").resize(SIZE, Image.BILINEAR).save(
            images / name
        )
    pdir = tmp_path / "project"
    with Project.create(pdir, images, "camvid") as project:
        for rec in project.images()[:N_REVIEWED]:
            mask = np.asarray(
                Image.open(camvid_root / "trainannot" / Path(rec.rel_path).name).resize(SIZE, 0)
            )
            mask = np.where(mask == 11, 255, mask).astype(np.uint8)  # CamVid void -> unlabeled
            project.save_mask(
                rec.id, mask, status=ImageStatus.REVIEWED, pixels_changed=1000, seconds_spent=30.0
            )
        project.add_model_version(tiny_checkpoint, metrics={"note": "random init"})
    return pdir


def _fast_settings(panel, *, iters: int, minutes: float = 0.0) -> None:
    s = panel.settings
    s.setChecked(True)
    s.crop.setValue(64)
    s.batch.setValue(2)
    s.iters.setValue(iters)
    s.minutes.setValue(minutes)
    s.val_fraction.setValue(0.34)
    s.device.setCurrentText("cpu")
    s.precision.setCurrentText("fp32")


def _open_project(qtbot, window, pdir: Path) -> None:
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=30_000):
        session.open_project(pdir)


def _open(qtbot, window, pdir: Path):
    _open_project(qtbot, window, pdir)
    ctrl = window.controller("finetune")
    answers: list[str] = []
    ctrl.ask = lambda text: answers.append(text) or True
    ctrl.inform = answers.append
    return ctrl, answers


@pytest.mark.timeout(600)  # a child process, training and two evaluations: seconds alone, minutes under load
def test_fine_tune_runs_in_a_child_and_the_new_model_pre_segments(qtbot, window, finetune_project) -> None:
    ctrl, _ = _open(qtbot, window, finetune_project)
    pre = window.controller("presegment")
    panel = ctrl.panel
    _fast_settings(panel, iters=6)
    with qtbot.waitSignal(ctrl.model_activated, timeout=240_000) as blocker:
        assert ctrl.start()
        assert ctrl.worker is not None and ctrl.worker.process_id() > 0  # a separate process
    new_id = blocker.args[0]
    project = window.controller("session").project
    assert new_id == 2 and project.active_model_version().id == 2
    counts = panel.curves.point_counts()
    assert counts.get("loss", 0) >= 1 and counts.get("loss_out", 0) >= 1
    assert counts.get("val mIoU", 0) >= 1
    cmp = ctrl.last_comparison
    assert cmp is not None and cmp.heldout_images >= 1 and cmp.new_miou is not None
    assert cmp.old_miou is not None
    version = project.model_version(2)
    assert version.parent == 1 and version.metrics["heldout_miou"] == pytest.approx(cmp.new_miou)
    assert panel.versions.table.rowCount() == 2
    # the unreviewed images are pre-segmented again by the new model in the background
    unreviewed = [r.id for r in project.images() if str(r.status) != "reviewed"]
    qtbot.waitUntil(lambda: pre.model_version == 2, timeout=60_000)
    qtbot.waitUntil(lambda: all(project.record(i).model_version == 2 for i in unreviewed), timeout=240_000)
    # rollback to v1 from the versions table
    with qtbot.waitSignal(ctrl.model_activated, timeout=10_000):
        panel.versions.select_version(1)
        panel.versions.activate_button.click()
    assert project.active_model_version().id == 1
    qtbot.waitUntil(lambda: pre.model_version == 1, timeout=60_000)


@pytest.mark.timeout(600)  # a child process, training and two evaluations: seconds alone, minutes under load
def test_cancel_stops_cleanly_and_keeps_the_checkpoint(qtbot, window, finetune_project) -> None:
    ctrl, _ = _open(qtbot, window, finetune_project)
    _fast_settings(ctrl.panel, iters=5000)
    assert ctrl.start()
    qtbot.waitUntil(lambda: ctrl.panel.curves.point_counts().get("loss", 0) >= 1, timeout=240_000)
    session = window.controller("session")
    with qtbot.waitSignal(session.image_opened, timeout=30_000):
        session.open_image(session.project.images()[-1].id)  # editing goes on while the child trains
    assert ctrl.is_running()
    with qtbot.waitSignal(ctrl.run_finished, timeout=240_000) as blocker:
        ctrl.panel.cancel_button.click()
    outcome = blocker.args[0]
    assert outcome.status == "stopped" and outcome.last_checkpoint is not None
    project = window.controller("session").project
    assert project.active_model_version().id == 1 and len(project.model_versions()) == 1
    assert ctrl.panel.resume_button.isEnabled() and ctrl.panel.start_button.isEnabled()


@pytest.mark.timeout(600)  # a child process, training and two evaluations: seconds alone, minutes under load
def test_killed_child_leaves_the_app_usable_and_the_old_model_active(
    qtbot, window, finetune_project, messages
) -> None:
    ctrl, _ = _open(qtbot, window, finetune_project)
    _fast_settings(ctrl.panel, iters=5000)
    assert ctrl.start()
    qtbot.waitUntil(lambda: ctrl.panel.curves.point_counts().get("loss", 0) >= 1, timeout=240_000)
    with qtbot.waitSignal(ctrl.worker.failed, timeout=30_000):
        os.kill(ctrl.worker.process_id(), signal.SIGKILL)
    assert "killed" in ctrl.panel.result.text()
    qtbot.waitUntil(lambda: any("killed" in m for m, _ in messages), timeout=5_000)
    session = window.controller("session")
    project = session.project
    assert project.active_model_version().id == 1 and len(project.model_versions()) == 1
    assert ctrl.panel.start_button.isEnabled()
    # still usable: switch image, and the reviewed masks are intact
    other = project.images()[1].id
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        session.open_image(other)
    assert all(project.load_mask(r.id) is not None for r in project.images(status="reviewed"))


def test_no_reviewed_images_is_a_clear_message(qtbot, window, project_dir) -> None:
    ctrl, answers = _open(qtbot, window, project_dir)
    assert not ctrl.start()
    assert answers and "no reviewed images" in answers[-1]


def test_review_queue_next_follows_uncertainty(qtbot, window, project_dir) -> None:
    from danet_core.project import Project

    with Project.open(project_dir) as p:
        recs = p.images()
        label = np.zeros((SIZE[1], SIZE[0]), dtype=np.uint8)
        conf = np.ones_like(label, dtype=np.float32)
        # the third image is the most uncertain, then the second; the first has no prediction
        for rec, u in zip(recs[1:], (0.5, 0.9, 0.1), strict=False):
            p.save_prediction(rec.id, label, conf, model_version=None, uncertainty=u)
        expected = [recs[2].id, recs[1].id, recs[3].id, recs[0].id]
    _open_project(qtbot, window, project_dir)
    session = window.controller("session")
    panel = window.image_list
    panel.set_order("name")
    assert panel.visible_ids() == [r.id for r in recs]
    panel.set_order("uncertainty")
    assert panel.visible_ids() == expected
    # "reviewed and next" from the first image goes to the head of the queue, not to the next name
    assert session.image_id == recs[0].id
    with qtbot.waitSignal(session.image_opened, timeout=10_000):
        window.actions_by_name["reviewed_next"].trigger()
    assert session.image_id == expected[0]
    assert panel.visible_ids()[-1] == recs[0].id  # reviewed images sink to the end of the queue


def test_a_label_set_change_since_the_model_is_named(tiny_checkpoint) -> None:
    from app.model.finetune_setup import CheckpointMetaCache
    from danet_core.labels import get_label_set

    cache = CheckpointMetaCache()
    assert cache.label_set_change(tiny_checkpoint, get_label_set("camvid")) == ""
    text = cache.label_set_change(tiny_checkpoint, get_label_set("voc"))
    assert "added: " in text and "removed: Sky" in text
