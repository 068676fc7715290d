"""InferenceQueue: serial, prioritised pre-segmentation with a fake predictor (fast, deterministic)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pytest
from PIL import Image

from app.model.class_mapping import build_class_mapping
from app.workers.inference import InferenceQueue
from danet_core.jobs import check_stop
from danet_core.labels import get_label_set
from danet_core.project import Project

pytestmark = pytest.mark.gui


@dataclass
class _Pred:
    label: np.ndarray
    confidence: np.ndarray
    entropy: np.ndarray
    margin: np.ndarray


class FakePredictor:
    """Predicts class (image id-independent) 2 everywhere; can be held at a gate to test ordering."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()
        self.calls: list[tuple[int, int]] = []
        self.fail_on: set[tuple[int, int]] = set()

    def predict(self, image, *, progress=None, should_stop=None):
        h, w = image.shape[:2]
        self.calls.append((h, w))
        while not self.gate.wait(0.01):
            check_stop(should_stop)
        if (h, w) in self.fail_on:
            raise ValueError(f"cannot predict a {w}x{h} image")
        full = np.full((h, w), 0.25, np.float32)
        return _Pred(np.full((h, w), 2, np.uint8), full + 0.5, full, full)


@pytest.fixture
def project(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    # distinct heights identify the images in FakePredictor.calls
    for i in range(5):
        Image.fromarray(np.full((20 + i, 30, 3), 40 * i, np.uint8)).save(images / f"img{i}.png")
    p = Project.create(tmp_path / "proj", images, "camvid")
    yield p
    p.close()


def _queue(project, predictor):
    ls = get_label_set("camvid")
    mapping = build_class_mapping([{"name": c.name} for c in ls.train_classes()], ls)
    q = InferenceQueue()
    q.set_model(project, predictor, mapping, model_version=None)
    return q


def test_current_goes_before_prefetch_and_batch(qtbot, project):
    pred = FakePredictor()
    pred.gate.clear()
    q = _queue(project, pred)
    ids = [r.id for r in project.images()]
    done: list[int] = []
    q.predicted.connect(lambda r: done.append(r.image_id))
    q.start_batch(ids[:3])  # ids[0] starts running, held at the gate
    q.prefetch([ids[4]])
    q.request(ids[3], "current")
    pred.gate.set()
    qtbot.waitUntil(lambda: len(done) == 5, timeout=10_000)
    assert done == [ids[0], ids[3], ids[4], ids[1], ids[2]]
    rec = project.record(ids[3])
    assert rec.has_prediction and str(rec.status) == "presegmented"
    label, conf = project.load_prediction(ids[3])
    assert (label == 2).all() and np.allclose(conf, 0.75, atol=1 / 255)
    assert rec.uncertainty == pytest.approx(0.25)


def test_batch_summary_counts_moved_and_failed_images(qtbot, project):
    pred = FakePredictor()
    pred.fail_on = {(22, 30)}  # img2
    q = _queue(project, pred)
    ids = [r.id for r in project.images()]
    failed_outside: list[int] = []
    q.image_failed.connect(lambda i, m, t: failed_outside.append(i))
    with qtbot.waitSignal(q.batch_finished, timeout=10_000) as blocker:
        q.start_batch(ids)
        q.request(ids[4], "current")  # moved out of the batch queue, still counted
        q.prefetch([])  # clearing prefetch never loses batch images
    summary = blocker.args[0]
    assert summary.total == 5 and summary.done == 5 and not summary.cancelled
    assert [i for i, _ in summary.failed] == [ids[2]] and "30x22" in summary.failed[0][1]
    assert failed_outside == []  # reported once, in the summary


def test_cancel_batch_stops_the_running_image_without_saving(qtbot, project):
    pred = FakePredictor()
    pred.gate.clear()
    q = _queue(project, pred)
    ids = [r.id for r in project.images()]
    with qtbot.waitSignal(q.batch_finished, timeout=10_000) as blocker:
        q.start_batch(ids)
        qtbot.waitUntil(lambda: len(pred.calls) == 1, timeout=5000)
        q.cancel_batch()
    summary = blocker.args[0]
    assert summary.cancelled and summary.done == 0
    qtbot.waitUntil(lambda: not q.is_busy(), timeout=5000)
    assert not any(project.record(i).has_prediction for i in ids)
    assert len(pred.calls) == 1


def test_no_model_means_no_work(qtbot, project):
    q = InferenceQueue()
    q.request(1)
    assert not q.is_busy()
    with pytest.raises(ValueError, match="no model"):
        q.start_batch([1])


class PreviewingPredictor(FakePredictor):
    """Previews images 20 rows high or more at 1/2 (class 3 everywhere), to test the preview job."""

    def __init__(self) -> None:
        super().__init__()
        self.previews: list[int] = []

    def preview_plan(self, h, w):
        from app.model.preview import PreviewPlan

        return PreviewPlan(2, 1.0, 10.0)

    def predict_preview(self, image, plan, *, progress=None, should_stop=None):
        h, w = image.shape[:2]
        self.previews.append(h)
        while not self.gate.wait(0.01):
            check_stop(should_stop)
        full = np.full((h, w), 0.25, np.float32)
        return _Pred(np.full((h, w), 3, np.uint8), full, full, full)


def test_the_opened_image_is_previewed_first_and_the_preview_is_never_stored(qtbot, project):
    pred = PreviewingPredictor()
    q = _queue(project, pred)
    ids = [r.id for r in project.images()]
    events: list[tuple[str, int]] = []
    q.previewed.connect(lambda r: events.append(("preview", r.image_id)))
    q.predicted.connect(lambda r: events.append(("full", r.image_id)))
    seen: list[bool] = []
    q.previewed.connect(lambda r: seen.append(project.record(r.image_id).has_prediction))
    q.request(ids[1], "current", preview=True)
    q.prefetch([ids[2]])  # prefetched images get no preview
    qtbot.waitUntil(lambda: len(events) == 3, timeout=10_000)
    assert events == [("preview", ids[1]), ("full", ids[1]), ("full", ids[2])]
    assert seen == [False]  # not stored: the project holds only the full result
    label, _ = project.load_prediction(ids[1])
    assert (label == 2).all()


def test_opening_another_image_drops_the_previous_preview(qtbot, project):
    pred = PreviewingPredictor()
    pred.gate.clear()
    q = _queue(project, pred)
    ids = [r.id for r in project.images()]
    previews: list[int] = []
    q.previewed.connect(lambda r: previews.append(r.image_id))
    full: list[int] = []
    q.predicted.connect(lambda r: full.append(r.image_id))
    q.request(ids[0], "current", preview=True)  # its preview runs, held at the gate
    qtbot.waitUntil(lambda: len(pred.previews) == 1, timeout=5000)
    q.request(ids[3], "current", preview=True)  # cancels it
    pred.gate.set()
    qtbot.waitUntil(lambda: ids[3] in full, timeout=10_000)
    assert previews == [ids[3]] and pred.previews == [20, 23]
    assert full == [ids[3]]  # the first image's full job was only queued: dropped as before
