"""Bad input: one clear error per item, the batch goes on, nothing outside the export folder, nothing lost."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.formats import ExportFolderError, FormatError, export_project, import_labels
from danet_core.formats.common import safe_output_path
from danet_core.project import Project


def _write(path: Path, w: int = 24, h: int = 16) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(path)


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def test_truncated_image_fails_alone(small: Project, tmp_path: Path) -> None:
    img = tmp_path / "images" / "b.png"
    img.write_bytes(img.read_bytes()[:60])
    report = export_project(small, tmp_path / "out", "cityscapes", mapping="camvid")
    assert report.done == 2 and len(report.errors) == 1
    assert "b.png" in report.errors[0] and "2 done, 0 skipped, 1 failed" in report.summary()


def test_import_errors_one_per_file_and_nothing_lost(small: Project, tmp_path: Path) -> None:
    before = {r.id: small.load_mask(r.id) for r in small.images()}
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(masks / "a.png")  # wrong size
    Image.fromarray(np.full((16, 24), 50, np.uint8)).save(masks / "b.png")  # id 50 not in CamVid
    Image.fromarray(np.ones((16, 24), np.uint8)).save(masks / "zzz.png")  # no such image
    (masks / "c.png").write_bytes(b"not a png")
    report = import_labels(small, masks, "mask", overwrite=True)
    assert report.done == 0 and len(report.errors) == 4, report.summary()
    text = "\n".join(report.errors)
    assert "differs from the image" in text and "ids [50]" in text and "no project image named zzz" in text
    assert "cannot read mask" in text
    for r in small.images():
        assert np.array_equal(small.load_mask(r.id), before[r.id])


def test_import_keeps_existing_masks_unless_overwrite(small: Project, tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.ones((16, 24), np.uint8)).save(masks / "a.png")
    report = import_labels(small, masks, "mask")
    assert report.skipped == 1 and report.details["kept_existing"] == ["a.png"]
    assert small.load_mask(small.find("a.png").id)[0, 0] == 0
    assert import_labels(small, masks, "mask", overwrite=True).done == 1
    assert small.load_mask(small.find("a.png").id)[0, 0] == 1


def test_malformed_json_and_unknown_labels(small: Project, tmp_path: Path) -> None:
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "a.json").write_text("{broken")
    (lm / "b.json").write_text(
        json.dumps(
            {
                "imageHeight": 16,
                "imageWidth": 24,
                "shapes": [{"label": "Dragon", "points": [[0, 0], [5, 5], [0, 5]]}],
            }
        )
    )
    (lm / "c.json").write_bytes(b'{"x": "\xff\xfe"}')
    report = import_labels(small, lm, "labelme", overwrite=True)
    assert report.done == 0 and len(report.errors) == 3
    text = "\n".join(report.errors)
    assert "malformed labelme JSON" in text and "'Dragon' is not a class" in text


def test_cityscapes_polygons_with_unknown_label(tmp_path: Path) -> None:
    _write(tmp_path / "images" / "x_000000_000001_leftImg8bit.png")
    _write(tmp_path / "images" / "x_000000_000002_leftImg8bit.png")
    with Project.create(tmp_path / "proj", tmp_path / "images", "cityscapes") as p:
        gt = tmp_path / "gt"
        gt.mkdir()
        good = {
            "imgHeight": 16,
            "imgWidth": 24,
            "objects": [
                {"label": "cargroup", "polygon": [[0, 0], [10, 0], [10, 10]]},
                {"label": "license plate", "polygon": [[0, 0], [3, 0], [3, 3]]},
            ],
        }
        (gt / "x_000000_000001_gtFine_polygons.json").write_text(json.dumps(good))
        bad = {
            "imgHeight": 16,
            "imgWidth": 24,
            "objects": [{"label": "unicorn", "polygon": [[0, 0], [1, 1], [0, 1]]}],
        }
        (gt / "x_000000_000002_gtFine_polygons.json").write_text(json.dumps(bad))
        report = import_labels(p, gt, "cityscapes")
        assert (
            report.done == 1
            and len(report.errors) == 1
            and "unknown Cityscapes label 'unicorn'" in report.errors[0]
        )
        mask = p.load_mask(p.find("x_000000_000001_leftImg8bit.png").id)
        assert mask[1, 5] == 26 and mask[15, 23] == 0  # cargroup -> car; license plate not drawn


def test_unwritable_export_folder(small: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ExportFolderError, match="not writable"):
        export_project(small, blocker / "out", "mask")


def test_disk_full_stops_cleanly(small: Project, tmp_path: Path, monkeypatch) -> None:
    import danet_core.formats.common as common

    calls = {"n": 0}
    real = common.atomic_write_bytes

    def flaky(path, data):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, data)

    monkeypatch.setattr(common, "atomic_write_bytes", flaky)
    with pytest.raises(ExportFolderError, match="No space left") as info:
        export_project(small, tmp_path / "out", "cityscapes", mapping="camvid")
    report = info.value.report
    assert report.done == 1 and report.errors[0].startswith("b.png")  # a done, b hit the full disk
    assert "mapping.csv" in report.errors[-1]  # the mapping could not be written either: reported
    assert not [p for p in _files(tmp_path / "out") if p.name.endswith(".tmp")]
    assert all(r.has_mask for r in small.images())  # the project is untouched


def test_names_cannot_escape_the_export_folder(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for bad in ("../x.png", "a/../../x.png", "/etc/x.png", "a\\b.png", "a//b.png", "", "x" * 256 + ".png"):
        with pytest.raises(FormatError):
            safe_output_path(out, bad)
    (out / "link").symlink_to(tmp_path)
    with pytest.raises(FormatError, match="outside the export folder"):
        safe_output_path(out, "link/x.png")
    assert safe_output_path(out, "a/b.png") == out / "a" / "b.png"


def test_bad_options_refused_before_writing(small: Project, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="split"):
        export_project(small, tmp_path / "o1", "cityscapes", mapping="camvid", split="../../evil")
    with pytest.raises(FormatError, match="no entry for classes"):
        export_project(small, tmp_path / "o2", "cityscapes", mapping={"Road": "road"})
    with pytest.raises(FormatError, match="not a Cityscapes label name"):
        bad = {c.name: "road" for c in small.label_set}
        bad["Sky"] = "heaven"
        export_project(small, tmp_path / "o3", "cityscapes", mapping=bad)
    assert not any((tmp_path / f"o{i}").exists() for i in (1, 2, 3))


def test_too_long_output_name_is_one_item_error(tmp_path: Path) -> None:
    _write(tmp_path / "images" / ("a" * 251 + ".png"))
    _write(tmp_path / "images" / "ok.png")
    with Project.create(tmp_path / "proj", tmp_path / "images", "camvid") as p:
        for rec in p.images():
            p.save_mask(rec.id, np.zeros((16, 24), np.uint8), status="reviewed")
        report = export_project(p, tmp_path / "out", "labelme")
        assert report.done == 1 and len(report.errors) == 1 and "longer than 255 bytes" in report.errors[0]
