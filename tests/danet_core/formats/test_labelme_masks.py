"""labelme JSON and palette / plain mask folders: exact round trips on real CamVid masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.formats import export_project, import_labels
from danet_core.formats.labelme import labelme_to_mask
from danet_core.labels import get_label_set
from danet_core.project import Project


def _fresh(tmp_path: Path, name: str, label_set: str = "camvid") -> Project:
    return Project.create(tmp_path / name, tmp_path / "images", label_set)


def _masks(project: Project) -> dict[str, np.ndarray]:
    return {r.rel_path: project.load_mask(r.id) for r in project.images() if r.has_mask}


def test_camvid_import_maps_void_to_unlabeled(camvid_project: Project, camvid_root: Path) -> None:
    rec = camvid_project.images()[0]
    raw = np.asarray(Image.open(camvid_root / "valannot" / Path(rec.rel_path).name))
    mask = camvid_project.load_mask(rec.id)
    assert np.array_equal(mask[raw != 11], raw[raw != 11]) and (mask[raw == 11] == 255).all()


@pytest.mark.parametrize("fmt", ["labelme", "palette", "mask"])
def test_round_trip_is_exact(camvid_project: Project, tmp_path: Path, fmt: str) -> None:
    report = export_project(camvid_project, tmp_path / "out", fmt)
    assert report.done == 4 and report.ok, report.summary()
    other = _fresh(tmp_path, "proj2")
    back = import_labels(other, tmp_path / "out", fmt)
    assert back.done == 4 and back.ok, back.summary()
    original, imported = _masks(camvid_project), _masks(other)
    assert original.keys() == imported.keys()
    for key in original:
        assert np.array_equal(original[key], imported[key]), key
    other.close()


def test_file_layouts(camvid_project: Project, tmp_path: Path, camvid_root: Path) -> None:
    export_project(camvid_project, tmp_path / "pal", "palette")
    export_project(camvid_project, tmp_path / "plain", "mask")
    export_project(camvid_project, tmp_path / "lm", "labelme")
    rec = camvid_project.images()[0]
    stem = str(Path(rec.rel_path).with_suffix(""))
    pal = Image.open(tmp_path / "pal" / f"{stem}.png")
    assert pal.mode == "P" and pal.getpalette()[3 * 3 : 3 * 4] == [128, 64, 128]  # Road
    plain = Image.open(tmp_path / "plain" / f"{stem}.png")
    assert plain.mode == "L"
    # the plain export is byte-for-byte the CamVid convention: ids 0..10, void 11
    assert np.array_equal(
        np.asarray(plain), np.asarray(Image.open(camvid_root / "valannot" / Path(rec.rel_path).name))
    )
    doc = json.loads((tmp_path / "lm" / f"{stem}.json").read_text())
    assert doc["imageData"] is None and (doc["imageHeight"], doc["imageWidth"]) == (360, 480)
    assert (tmp_path / "lm" / f"{stem}.json").parent.joinpath(
        doc["imagePath"]
    ).resolve() == camvid_project.image_path(rec.id)
    assert {s["shape_type"] for s in doc["shapes"]} == {"polygon"}
    assert {s["label"] for s in doc["shapes"]} <= {c.name for c in camvid_project.label_set} | {"__ignore__"}


def test_labelme_shapes_and_labels() -> None:
    ls = get_label_set("camvid")
    doc = {
        "imageHeight": 20,
        "imageWidth": 30,
        "imagePath": "x.png",
        "imageData": None,
        "shapes": [
            {"label": "Road", "points": [[0, 0], [29, 19]], "shape_type": "rectangle"},
            {"label": "Car", "points": [[10, 10], [13, 10]], "shape_type": "circle"},
            {"label": "__ignore__", "points": [[0, 0], [2, 0], [2, 2], [0, 2]], "shape_type": "polygon"},
            {"label": "Sky", "points": [[5, 5]], "shape_type": "point"},
        ],
    }
    mask, skipped = labelme_to_mask(doc, ls, "doc.json")
    assert skipped == 1 and mask[15, 25] == 3 and mask[10, 10] == 8 and mask[1, 1] == 255 and mask[5, 5] == 3
