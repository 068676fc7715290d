"""Project store: create/open, statuses, masks, prediction cache, model versions, rescan."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from danet_core.jobs import Cancelled
from danet_core.labels import get_label_set
from danet_core.project import CATALOG_NAME, ImageStatus, Project, ProjectError


def test_create_scans_recursively_and_reopens(tmp_path: Path, image_folder: Path) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        rels = [r.rel_path for r in p.images()]
        assert rels == ["a.png", "sub/b.jpg", "sub/deeper/c.PNG"]
        assert all(r.status == ImageStatus.NEW and r.width is None for r in p.images())
    conn = sqlite3.connect(tmp_path / "proj" / CATALOG_NAME)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    with Project.open(tmp_path / "proj") as p:
        assert p.label_set.name == "camvid" and len(p.images()) == 3
        rec = p.images()[1]
        assert p.image_size(rec.id) == (20, 10)
        assert p.record(rec.id).width == 20  # cached after the first header read
        assert p.image_path(rec.id) == image_folder / "sub" / "b.jpg"


def test_create_refuses_existing_and_bad_folder(tmp_path: Path, image_folder: Path) -> None:
    Project.create(tmp_path / "proj", image_folder, "voc").close()
    with pytest.raises(ProjectError, match="already contains a project"):
        Project.create(tmp_path / "proj", image_folder, "voc")
    with pytest.raises(ProjectError, match="image folder not found"):
        Project.create(tmp_path / "p2", tmp_path / "nope", "voc")
    with pytest.raises(ProjectError, match="not a project folder"):
        Project.open(tmp_path / "nope")


def test_project_inside_image_folder_is_not_scanned(image_folder: Path) -> None:
    with Project.create(image_folder / "proj", image_folder, "camvid") as p:
        rec = p.images()[0]
        p.save_mask(rec.id, np.zeros((30, 40), np.uint8))
        assert p.rescan().added == 0
        assert len(p.images()) == 3


def test_mask_save_load_status_and_stats(tmp_path: Path, image_folder: Path) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        rec = p.find("a.png")
        assert p.load_mask(rec.id) is None
        mask = np.full((30, 40), 255, np.uint8)
        mask[5:10, 5:20] = 3
        p.save_mask(rec.id, mask, pixels_changed=75, seconds_spent=12.5)
        r = p.record(rec.id)
        assert r.status == ImageStatus.IN_PROGRESS and r.has_mask and r.pixels_changed == 75
        assert np.array_equal(p.load_mask(rec.id), mask)
        p.save_mask(rec.id, mask, status="reviewed")
        p.add_seconds(rec.id, 2.5)
        r = p.record(rec.id)
        assert r.status == ImageStatus.REVIEWED and r.seconds_spent == pytest.approx(15.0)
        assert [x.rel_path for x in p.images(status="reviewed")] == ["a.png"]
        assert p.counts()["reviewed"] == 1 and p.counts()["total"] == 3
        p.set_status(rec.id, ImageStatus.IN_PROGRESS)
        assert p.record(rec.id).status == "in_progress"


@pytest.mark.parametrize(
    ("mask", "message"),
    [
        (np.zeros((30, 41), np.uint8), "differs from the image"),
        (np.full((30, 40), 11, np.uint8), r"values \[11\] are not classes"),
        (np.zeros((30, 40), np.int32), "expected uint8"),
    ],
)
def test_bad_masks_are_refused_and_nothing_is_lost(tmp_path, image_folder, mask, message) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        rec = p.find("a.png")
        good = np.ones((30, 40), np.uint8)
        p.save_mask(rec.id, good)
        with pytest.raises(ProjectError, match=message):
            p.save_mask(rec.id, mask)
        assert np.array_equal(p.load_mask(rec.id), good)
        with pytest.raises(ProjectError, match="image id 999"):
            p.load_mask(999)
        with pytest.raises(ProjectError, match="unknown image status"):
            p.set_status(rec.id, "done")


def test_prediction_cache_and_uncertainty_order(tmp_path: Path, image_folder: Path) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        a, b, c = p.images()
        rng = np.random.default_rng(0)
        label = rng.integers(0, 11, (30, 40)).astype(np.uint8)
        conf = rng.random((30, 40)).astype(np.float32)
        p.save_prediction(a.id, label, conf, model_version=None, uncertainty=0.2)
        p.save_prediction(
            b.id, np.zeros((10, 20), np.uint8), np.ones((10, 20)), model_version=None, uncertainty=0.7
        )
        got_label, got_conf = p.load_prediction(a.id)
        assert np.array_equal(got_label, label) and got_conf.dtype == np.float32
        assert np.abs(got_conf - conf).max() <= 0.5 / 255 + 1e-6
        assert p.record(a.id).status == ImageStatus.PRESEGMENTED
        assert [r.id for r in p.images(order="uncertainty")] == [b.id, a.id, c.id]
        assert p.load_prediction(c.id) is None
        p.save_mask(b.id, np.zeros((10, 20), np.uint8), status="reviewed")
        assert p.invalidate_predictions() == 2
        assert p.load_prediction(a.id) is None and p.record(a.id).status == ImageStatus.NEW
        assert p.record(b.id).status == ImageStatus.REVIEWED and p.load_mask(b.id) is not None
        assert p.record(a.id).uncertainty is None


def test_model_versions(tmp_path: Path, image_folder: Path) -> None:
    ckpt = tmp_path / "run" / "best.pt"
    ckpt.parent.mkdir()
    ckpt.write_bytes(b"weights-1" * 1000)
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        assert p.active_model_version() is None and p.model_versions() == []
        v1 = p.add_model_version(ckpt, metrics={"miou": np.float32(0.5)})
        assert v1.path.read_bytes() == ckpt.read_bytes() and v1.path.parent == tmp_path / "proj" / "models"
        assert p.active_model_version().id == v1.id  # the first version becomes active
        ckpt.write_bytes(b"weights-2")
        v2 = p.add_model_version(ckpt, metrics={"miou": 0.6}, parent=v1.id)
        assert p.active_model_version().id == v1.id
        p.set_active_model(v2.id)
    with Project.open(tmp_path / "proj") as p:
        active = p.active_model_version()
        assert active.id == v2.id and active.parent == v1.id and active.metrics == {"miou": 0.6}
        assert p.model_version(v1.id).metrics["miou"] == pytest.approx(0.5)
        assert [v.id for v in p.model_versions()] == [v1.id, v2.id]
        with pytest.raises(ProjectError, match="model version 42"):
            p.set_active_model(42)
        with pytest.raises(ProjectError, match="checkpoint file not found"):
            p.add_model_version(tmp_path / "missing.pt", metrics={})


def test_rescan_keeps_work_of_vanished_images(tmp_path: Path, image_folder: Path, make_image) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        a = p.find("a.png")
        p.save_mask(a.id, np.zeros((30, 40), np.uint8))
        (image_folder / "a.png").rename(tmp_path / "a.png")
        (image_folder / "sub" / "b.jpg").unlink()
        make_image(image_folder / "new.webp", 12, 8)
        result = p.rescan()
        assert (result.added, result.removed, result.missing_with_work) == (1, 1, 1)
        assert [r.rel_path for r in p.images()] == ["new.webp", "sub/deeper/c.PNG"]
        assert p.find("a.png").missing and p.load_mask(a.id) is not None
        (tmp_path / "a.png").rename(image_folder / "a.png")
        p.rescan()
        assert not p.find("a.png").missing and p.find("a.png").id == a.id


def test_cancelled_create_leaves_no_project(tmp_path: Path, image_folder: Path) -> None:
    with pytest.raises(Cancelled):
        Project.create(tmp_path / "proj", image_folder, "camvid", should_stop=lambda: True)
    assert not (tmp_path / "proj" / CATALOG_NAME).exists()


def test_non_utf8_file_name_is_reported(tmp_path: Path, image_folder: Path) -> None:
    bad = bytes(image_folder) + b"/caf\xe9.png"
    try:
        with open(bad, "wb") as fh:
            fh.write((image_folder / "a.png").read_bytes())
    except OSError:
        pytest.skip("file system refuses non-UTF-8 names")
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        assert len(p.images()) == 3
        result = p.rescan()
        assert len(result.errors) == 1 and "not valid UTF-8" in result.errors[0]


def test_shared_between_threads(tmp_path: Path, image_folder: Path) -> None:
    with Project.create(tmp_path / "proj", image_folder, "camvid") as p:
        recs = p.images()
        errors: list[BaseException] = []

        def work(rec) -> None:
            try:
                w, h = p.image_size(rec.id)
                for k in range(10):
                    p.save_mask(rec.id, np.full((h, w), k, np.uint8))
                    p.images()
            except BaseException as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(r,)) for r in recs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert all(int(p.load_mask(r.id).max()) == 9 for r in recs)


def test_cityscapes_label_ids_are_valid_mask_values(tmp_path: Path, image_folder: Path) -> None:
    with Project.create(tmp_path / "proj", image_folder, get_label_set("cityscapes")) as p:
        rec = p.find("sub/deeper/c.PNG")
        mask = np.arange(256, dtype=np.uint8).reshape(16, 16)
        mask[mask > 33] = 255
        p.save_mask(rec.id, mask)
        assert np.array_equal(p.load_mask(rec.id), mask)


@pytest.mark.slow
def test_8000x6000_image(tmp_path: Path) -> None:
    from PIL import Image

    from danet_core.formats import export_project

    root = tmp_path / "images"
    root.mkdir()
    Image.new("RGB", (8000, 6000), (10, 20, 30)).save(root / "big.png", compress_level=1)
    with Project.create(tmp_path / "proj", root, "camvid") as p:
        (rec,) = p.images()
        assert p.image_size(rec.id) == (8000, 6000)
        mask = np.full((6000, 8000), 255, np.uint8)
        mask[1000:5000, 2000:7000] = 3
        p.save_mask(rec.id, mask, status="reviewed")
        assert np.array_equal(p.load_mask(rec.id), mask)
        p.save_prediction(
            rec.id, mask, np.full(mask.shape, 0.5, np.float32), model_version=None, uncertainty=0.1
        )
        assert p.load_prediction(rec.id)[0].shape == (6000, 8000)
        report = export_project(p, tmp_path / "out", "palette")
        assert report.done == 1 and report.ok
