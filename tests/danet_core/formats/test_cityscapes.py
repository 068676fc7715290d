"""Cityscapes export/import, judged by the real tool (cityscapesscripts) on the real data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.formats.cityscapes_export import (
    check_city,
    export_cityscapes,
    parse_split,
    plan_names,
    split_for,
)
from danet_core.formats.cityscapes_import import import_cityscapes
from danet_core.formats.cityscapes_labels import TRAIN_ID_LUT
from danet_core.formats.common import FormatError
from danet_core.formats.masks import import_masks
from danet_core.project import ImageStatus, Project

json2labelImg = pytest.importorskip("cityscapesscripts.preparation.json2labelImg")

FRAME = "frankfurt_000000_000294"


def _png(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img)


def _json2label(polygons: Path, tmp: Path, encoding: str = "ids") -> np.ndarray:
    out = tmp / f"j2l_{polygons.stem}_{encoding}.png"
    json2labelImg.json2labelImg(str(polygons), str(out), encoding)
    return _png(out)


@pytest.fixture
def sample_project(tmp_path: Path, cityscapes_sample_root: Path) -> Project:
    project = Project.create(tmp_path / "proj", cityscapes_sample_root / "leftImg8bit", "cityscapes")
    report = import_cityscapes(project, cityscapes_sample_root / "gtFine")
    assert report.done == 1 and report.ok, report.summary()
    yield project
    project.close()


def test_import_labelids_is_exact(sample_project: Project, cityscapes_sample_root: Path) -> None:
    gt = _png(cityscapes_sample_root / f"gtFine/val/frankfurt/{FRAME}_gtFine_labelIds.png")
    (rec,) = sample_project.images()
    assert rec.status == ImageStatus.REVIEWED
    assert np.array_equal(sample_project.load_mask(rec.id), gt)


def test_export_sample_frame_passes_cityscapesscripts(
    sample_project, cityscapes_sample_root, tmp_path
) -> None:
    out = tmp_path / "export"
    report = export_cityscapes(sample_project, out)
    assert report.done == 1 and report.ok, report.summary()
    src_gt = cityscapes_sample_root / "gtFine/val/frankfurt"
    gt_dir = out / "gtFine/val/frankfurt"  # split "auto" keeps the val folder, the name is kept
    label_ids = _png(gt_dir / f"{FRAME}_gtFine_labelIds.png")
    assert label_ids.dtype == np.uint8
    assert np.array_equal(label_ids, _png(src_gt / f"{FRAME}_gtFine_labelIds.png"))
    # labelTrainIds through the table (the sample's own labelTrainIds file was downscaled separately
    # and disagrees with its labelIds on 77 of 32768 pixels, so it is not the reference here)
    train_ids = _png(gt_dir / f"{FRAME}_gtFine_labelTrainIds.png")
    assert np.array_equal(train_ids, TRAIN_ID_LUT[label_ids])
    inst = _png(gt_dir / f"{FRAME}_gtFine_instanceIds.png")
    assert inst.dtype in (np.uint16, np.int32) and Image.open(
        gt_dir / f"{FRAME}_gtFine_instanceIds.png"
    ).mode.startswith("I")
    semantic = np.where(inst >= 1000, inst // 1000, inst)
    assert np.array_equal(semantic, label_ids)
    assert (inst >= 1000).any()  # the frame has cars/persons
    assert (out / f"leftImg8bit/val/frankfurt/{FRAME}_leftImg8bit.png").read_bytes() == (
        cityscapes_sample_root / f"leftImg8bit/val/frankfurt/{FRAME}_leftImg8bit.png"
    ).read_bytes()
    # (1) the real json2labelImg reproduces labelIds (and trainIds, colours) from our polygons.json
    polygons = gt_dir / f"{FRAME}_gtFine_polygons.json"
    drawn = _json2label(polygons, tmp_path)
    assert (drawn == label_ids).mean() >= 0.99
    assert np.array_equal(drawn, label_ids)  # measured: exact
    assert np.array_equal(_json2label(polygons, tmp_path, "trainIds"), train_ids)
    color = _json2label(polygons, tmp_path, "color")
    assert np.array_equal(color, _png(gt_dir / f"{FRAME}_gtFine_color.png"))


def test_pixel_level_evaluation_gives_miou_1(
    sample_project, cityscapes_sample_root, tmp_path, monkeypatch
) -> None:
    ev = pytest.importorskip("cityscapesscripts.evaluation.evalPixelLevelSemanticLabeling")
    if not hasattr(ev.np, "in1d"):  # cityscapesScripts 2.2 still calls np.in1d, removed in NumPy 2.4
        monkeypatch.setattr(
            ev.np, "in1d", lambda a, b, invert=False: np.isin(a, b, invert=invert).ravel(), raising=False
        )
    out = tmp_path / "export"
    export_cityscapes(sample_project, out)
    pred = out / f"gtFine/val/frankfurt/{FRAME}_gtFine_labelIds.png"
    gt = cityscapes_sample_root / f"gtFine/val/frankfurt/{FRAME}_gtFine_labelIds.png"
    args = ev.CArgs()
    for key, value in vars(ev.args).items():
        setattr(args, key, value)
    args.JSONOutput, args.quiet, args.colorized = False, True, False
    result = ev.evaluateImgLists([str(pred)], [str(gt)], args)
    assert result["averageScoreClasses"] == pytest.approx(1.0)
    assert result["averageScoreCategories"] == pytest.approx(1.0)


def test_polygons_only_import_matches_json2labelimg(sample_project, cityscapes_sample_root, tmp_path) -> None:
    out = tmp_path / "export"
    export_cityscapes(sample_project, out)
    only_json = tmp_path / "only_json" / "frankfurt"
    only_json.mkdir(parents=True)
    polygons = out / f"gtFine/val/frankfurt/{FRAME}_gtFine_polygons.json"
    shutil.copy(polygons, only_json)
    project2 = Project.create(tmp_path / "proj2", cityscapes_sample_root / "leftImg8bit", "cityscapes")
    report = import_cityscapes(project2, tmp_path / "only_json")
    assert report.done == 1, report.summary()
    (rec,) = project2.images()
    assert np.array_equal(project2.load_mask(rec.id), _json2label(polygons, tmp_path))
    # round trip of the export through import: exact
    project3 = Project.create(tmp_path / "proj3", cityscapes_sample_root / "leftImg8bit", "cityscapes")
    assert import_cityscapes(project3, out / "gtFine").done == 1
    assert np.array_equal(project3.load_mask(rec.id), sample_project.load_mask(rec.id))
    project2.close()
    project3.close()


def test_camvid_masks_mapped_to_cityscapes(camvid_root: Path, tmp_path: Path) -> None:
    names = sorted(p.name for p in (camvid_root / "train").glob("*.png"))[::45][:8]
    images, annots = tmp_path / "images" / "seq01", tmp_path / "annot"
    images.mkdir(parents=True)
    annots.mkdir()
    for n in names:
        shutil.copy(camvid_root / "train" / n, images / n)
        shutil.copy(camvid_root / "trainannot" / n, annots / n)
    with Project.create(tmp_path / "proj", tmp_path / "images", "camvid") as project:
        assert import_masks(project, annots).done == len(names)
        with pytest.raises(FormatError, match="not the Cityscapes set"):
            export_cityscapes(project, tmp_path / "refused")
        assert not (tmp_path / "refused").exists()
        report = export_cityscapes(
            project, tmp_path / "out", mapping="camvid", split={"train": 0.5, "val": 0.5}
        )
        assert report.done == len(names) and report.ok, report.summary()
    rows = (tmp_path / "out" / "mapping.csv").read_text().splitlines()
    assert rows[0] == "source,split,city,cityscapes_name" and len(rows) == len(names) + 1
    assert all(",seq01," in r and "seq01_000000_0000" in r for r in rows[1:])
    polys = sorted((tmp_path / "out" / "gtFine").rglob("*_gtFine_polygons.json"))
    assert len(polys) == len(names)
    worst = 1.0
    for p in polys:
        ids = _png(Path(str(p).replace("_polygons.json", "_labelIds.png")))
        worst = min(worst, float((_json2label(p, tmp_path) == ids).mean()))
        data = json.loads(p.read_text())
        assert data["imgWidth"] == 480 and data["imgHeight"] == 360
    assert worst >= 0.99
    # CamVid Road (3) became Cityscapes road (7), void became unlabeled (0)
    first = _png(sorted((tmp_path / "out" / "gtFine").rglob("*_labelIds.png"))[0])
    assert set(np.unique(first).tolist()) <= {0, 7, 8, 11, 13, 17, 20, 21, 23, 24, 25, 26}


def test_names_and_splits() -> None:
    from danet_core.project import ImageRecord

    def rec(i: int, rel: str) -> ImageRecord:
        return ImageRecord(i, rel, ImageStatus.REVIEWED, 8, 8, None, None, None, None, True)

    plans = plan_names(
        [rec(1, "a/x_y.png"), rec(2, "aachen_000001_000002_leftImg8bit.png"), rec(3, "a/z.jpg")],
        "train",
        None,
    )
    assert [p.stem for p in plans] == ["a_000000_000000", "aachen_000001_000002", "a_000000_000001"]
    assert split_for("data/val/b.png", "auto") == "val" and split_for("b.png", "auto") == "train"
    with pytest.raises(FormatError, match="plain name"):
        split_for("b.png", "../evil")
    with pytest.raises(FormatError, match="city"):
        plan_names([rec(1, "x.png")], "train", "my_city")
    fr = {split_for(f"img{i}.png", {"train": 0.7, "val": 0.3}) for i in range(50)}
    assert fr == {"train", "val"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("auto", "auto"),
        ("", "auto"),
        (" val ", "val"),
        ("train=0.8,val=0.2", {"train": 0.8, "val": 0.2}),
        ("train = 3, val = 1, test = 0", {"train": 3.0, "val": 1.0, "test": 0.0}),
    ],
)
def test_parse_split_accepts_what_the_cli_and_the_dialog_offer(text: str, expected: object) -> None:
    assert parse_split(text) == expected


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("train=0.8,val=x", "NAME=FRACTION"),
        ("train=-1,val=2", "non-negative"),
        ("train=0.5,train=0.5", "distinct names"),
        ("=0.5", "NAME=FRACTION"),
        ("train=0,val=0", "add up to 0"),
        ("train=nan", "non-negative"),
        ("../evil", "plain name"),
        ("a/b=1", "plain name"),
    ],
)
def test_parse_split_refuses_with_the_value_and_what_was_expected(text: str, match: str) -> None:
    with pytest.raises(FormatError, match=match) as info:
        parse_split(text)
    assert repr(text.strip()) in str(info.value) or text.split("=")[0] in str(info.value)


def test_check_city() -> None:
    assert check_city(None) is None and check_city("my-city2") == "my-city2"
    for bad in ("my_city", "a/b", ""):
        with pytest.raises(FormatError, match="city"):
            check_city(bad)


def test_generated_names_import_back_through_mapping_csv(tmp_path: Path) -> None:
    root = tmp_path / "images"
    root.mkdir()
    rng = np.random.default_rng(3)
    for name in ("one.png", "two.jpg"):
        Image.fromarray(rng.integers(0, 255, (20, 30, 3), dtype=np.uint8)).save(root / name)
    with Project.create(tmp_path / "p1", root, "cityscapes") as p1:
        for rec in p1.images():
            m = rng.choice(np.array([0, 7, 11, 26, 255], np.uint8), size=(20, 30))
            p1.save_mask(rec.id, m, status="reviewed")
        assert export_cityscapes(p1, tmp_path / "out").done == 2
        expected = {r.rel_path: p1.load_mask(r.id) for r in p1.images()}
    assert (tmp_path / "out/leftImg8bit/train/images/images_000000_000001_leftImg8bit.png").is_file()
    with Project.create(tmp_path / "p2", root, "cityscapes") as p2:
        report = import_cityscapes(p2, tmp_path / "out" / "gtFine")
        assert report.done == 2, report.summary()
        for r in p2.images():
            want = expected[r.rel_path].copy()
            want[want == 255] = 0  # unlabeled is exported as label id 0 'unlabeled'
            assert np.array_equal(p2.load_mask(r.id), want)
