"""Issue 13 regressions in the formats: unknown mask values (D03), decompression-bomb headers (D04),
hostile declared sizes and coordinates (D05, D14), images replaced on disk (D06), lost masks (D07) and a
re-export that must not lose mapping.csv rows (D10). One clear error per item, named; exit codes tell."""

from __future__ import annotations

import csv
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from danet_core.formats import FormatError, export_project, import_labels
from danet_core.images import ImageReadError, image_size
from danet_core.jobs import Cancelled
from danet_core.project import Project


def bomb_png(path: Path, w: int = 40000, h: int = 40000) -> None:
    """A valid PNG whose header claims ``w`` x ``h`` pixels (its pixel data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


@pytest.mark.parametrize("fmt", ["mask", "palette", "cityscapes", "labelme"])
def test_mask_values_outside_the_label_set_fail_per_item(small: Project, tmp_path: Path, fmt: str) -> None:
    bad = small.images()[1]
    m = small.load_mask(bad.id)
    assert m is not None
    m[0, 0] = 200
    small.mask_path(bad.id).write_bytes(_png(m))  # another tool wrote it
    options = {"mapping": "camvid"} if fmt == "cityscapes" else {}
    report = export_project(small, tmp_path / "out", fmt, **options)
    assert report.done == 2 and len(report.errors) == 1 and not report.ok
    assert bad.rel_path in report.errors[0] and "[200]" in report.errors[0]


def _png(mask: np.ndarray) -> bytes:
    from danet_core.images import encode_png

    return encode_png(mask)


def test_a_decompression_bomb_header_is_one_named_error(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb_png(bomb)
    with pytest.raises(ImageReadError, match="bomb.png.*decompression bomb"):
        image_size(bomb)


def test_declared_sizes_are_checked_before_allocating(small: Project, tmp_path: Path) -> None:
    folder = tmp_path / "lm"
    folder.mkdir()
    doc = {"imagePath": "../images/a.png", "imageHeight": 100000, "imageWidth": 100000, "shapes": []}
    (folder / "a.json").write_text(json.dumps(doc))
    doc2 = {
        "imagePath": "../images/b.png", "imageHeight": 16, "imageWidth": 24,
        "shapes": [{"label": "Sky", "shape_type": "polygon", "points": [[0, 0], [1e9, 0], [1, 1]]}],
    }  # fmt: skip
    (folder / "b.json").write_text(json.dumps(doc2))
    doc3 = {**doc2, "imagePath": "../images/c.png"}
    doc3["shapes"] = [
        {"label": "Sky", "shape_type": "polygon", "points": [[0, 0], [float("nan"), 0], [1, 1]]}
    ]
    (folder / "c.json").write_text(json.dumps(doc3))
    before = {r.id: small.load_mask(r.id).copy() for r in small.images()}
    report = import_labels(small, folder, "labelme", overwrite=True)
    assert report.done == 0 and len(report.errors) == 3, report.errors
    assert "declares a 100000x100000 image but the project image is 24x16" in report.errors[0]
    assert "far outside" in report.errors[1] and "finite" in report.errors[2]
    for r in small.images():
        assert (small.load_mask(r.id) == before[r.id]).all()  # nothing saved was changed


def test_an_image_replaced_by_another_size_is_not_exported(
    small: Project, tmp_path: Path, write_image
) -> None:
    rec = small.images()[0]
    write_image(small.image_path(rec.id), 30, 20)
    for fmt in ("mask", "labelme"):
        report = export_project(small, tmp_path / fmt, fmt)
        assert report.done == 2 and len(report.errors) == 1 and "is now 30x20" in report.errors[0]


def test_a_lost_mask_file_is_an_error_not_a_skip(small: Project, tmp_path: Path) -> None:
    rec = small.images()[2]
    small.mask_path(rec.id).unlink()
    report = export_project(small, tmp_path / "out", "mask")
    assert report.skipped == 0 and len(report.errors) == 1 and "is missing" in report.errors[0]
    assert not report.ok


def test_a_cancelled_re_export_keeps_every_mapping_row(small: Project, tmp_path: Path) -> None:
    out = tmp_path / "cs"
    full = export_project(small, out, "cityscapes", mapping="camvid")
    assert full.done == 3
    calls = {"n": 0}

    def stop_after_one() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(Cancelled):
        export_project(small, out, "cityscapes", mapping="camvid", should_stop=stop_after_one)
    rows = list(csv.reader((out / "mapping.csv").open()))
    assert rows[0] == ["source", "split", "city", "cityscapes_name"]
    assert sorted(r[0] for r in rows[1:]) == ["a.png", "b.png", "c.png"]


def test_polygon_json_refuses_non_finite_coordinates(tmp_path: Path) -> None:
    from danet_core.formats.cityscapes_import import read_polygons

    bad = tmp_path / "x_gtFine_polygons.json"
    obj = {"label": "road", "polygon": [[0, 0], [float("inf"), 1], [2, 2]]}
    bad.write_text(json.dumps({"imgHeight": 8, "imgWidth": 8, "objects": [obj]}))
    with pytest.raises(FormatError, match="malformed polygon.*finite"):
        read_polygons(bad, (8, 8))
    with pytest.raises(FormatError, match="declares a 8x8 image but the project image is 9x8"):
        read_polygons(bad, (9, 8))
