"""Label sets: the Cityscapes table against cityscapesScripts, LUTs, user-defined validation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from danet_core.labels import (
    CITYSCAPES_LABELS,
    LabelClass,
    LabelSet,
    LabelSetError,
    get_label_set,
    load_label_set,
    resolve_label_set,
)


def test_cityscapes_table_matches_cityscapesscripts() -> None:
    labels = pytest.importorskip("cityscapesscripts.helpers.labels")
    ours = [
        (l.name, l.id, l.train_id, l.category, l.cat_id, l.has_instances, l.ignore_in_eval, tuple(l.color))
        for l in CITYSCAPES_LABELS
    ]
    theirs = [
        (l.name, l.id, l.trainId, l.category, l.categoryId, l.hasInstances, l.ignoreInEval, tuple(l.color))
        for l in labels.labels
    ]
    assert ours == theirs


def test_cityscapes_set_uses_label_ids_and_19_train_classes() -> None:
    cs = get_label_set("cityscapes")
    assert cs.indices() == list(range(34))
    assert all(c.index == c.export_id for c in cs)
    train = cs.train_classes()
    assert [c.train_id for c in train] == list(range(19))
    assert [c.name for c in train][:3] == ["road", "sidewalk", "building"]
    lut = cs.training_lut()
    assert lut[7] == 0 and lut[33] == 18 and lut[0] == 255 and lut[255] == 255 and lut[9] == 255
    back = cs.lut_from_train_ids()
    assert back[0] == 7 and back[18] == 33 and back[19] == 255
    # round trip over every trained label id
    ids = np.array([c.index for c in train], dtype=np.uint8)
    assert np.array_equal(back[lut[ids]], ids)
    assert cs.by_name("car").has_instances and cs.by_index(26).category == "vehicle"


def test_camvid_and_voc() -> None:
    cv = get_label_set("camvid")
    assert len(cv) == 11 and cv.by_index(4).name == "Pavement" and cv.by_index(4).color == (60, 40, 222)
    assert cv.unlabeled_export_id == 11
    lut = cv.training_lut()
    assert list(lut[:11]) == list(range(11)) and lut[255] == 255 and lut[11] == 255
    exp = cv.export_lut()
    assert exp[255] == 11 and exp[3] == 3
    imp, known = cv.import_lut()
    assert imp[11] == 255 and known[11] and not known[12]
    voc = get_label_set("voc")
    assert len(voc) == 21 and voc.by_index(15).name == "person"
    assert voc.by_index(1).color == (128, 0, 0) and voc.palette()[255].tolist() == [224, 224, 192]


def test_dict_round_trip_and_file(tmp_path) -> None:
    for name in ("cityscapes", "camvid", "voc"):
        ls = get_label_set(name)
        again = LabelSet.from_dict(json.loads(json.dumps(ls.to_dict())))
        assert again.to_dict() == ls.to_dict()
    path = tmp_path / "set.json"
    get_label_set("camvid").save(path)
    assert load_label_set(path).to_dict() == get_label_set("camvid").to_dict()
    assert resolve_label_set(str(path)).name == "camvid"


def test_user_defined_defaults() -> None:
    ls = LabelSet.from_dict(
        {
            "name": "fruit",
            "classes": [
                {"name": "apple", "color": "#ff0000"},
                {"name": "pear", "color": [0, 255, 0], "export_id": 7},
            ],
        }
    )
    assert (
        ls.indices() == [0, 1]
        and ls.by_name("pear").export_id == 7
        and ls.by_name("apple").color == (255, 0, 0)
    )
    assert ls.num_train_classes == 2


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ([{"name": "a", "color": [0, 0, 0]}, {"name": "A", "color": [1, 1, 1]}], "duplicate class name"),
        (
            [{"name": "a", "color": [0, 0, 0]}, {"name": "b", "color": [1, 1, 1], "index": 0}],
            "duplicate class index",
        ),
        ([{"name": "a", "color": [0, 0, 256]}], "expected three integers"),
        ([{"name": "a", "color": "red"}], "not a colour"),
        ([{"name": "a", "color": [0, 0, 0], "index": 255}], "index 255"),
        ([{"name": "a", "color": [0, 0, 0], "export_id": 300}], "export id 300"),
        ([{"name": "a", "color": [0, 0, 0], "train_id": 3}], "train ids"),
        ([{"name": "", "color": [0, 0, 0]}], "non-empty"),
        (
            [{"name": "a", "color": [0, 0, 0], "export_id": 1}, {"name": "b", "color": [0, 0, 0]}],
            "duplicate export",
        ),
        ([], "no classes"),
        ([{"name": "a"}], "needs 'name' and 'color'"),
    ],
)
def test_user_defined_validation(classes, message) -> None:
    with pytest.raises(LabelSetError, match=message):
        LabelSet.from_dict({"name": "bad", "classes": classes})


def test_bad_files(tmp_path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(LabelSetError, match="malformed JSON"):
        load_label_set(bad)
    with pytest.raises(LabelSetError, match="no such"):
        load_label_set(tmp_path / "missing.json")
    with pytest.raises(LabelSetError, match="unknown label set"):
        get_label_set("ade20k")


def test_direct_construction_validates() -> None:
    ls = LabelSet("x", [LabelClass(0, "a", (1, 2, 3), 0, 0), LabelClass(1, "b", (1, 2, 3), 1, 255)])
    assert ls.validate() is ls
    assert ls.train_classes()[0].name == "a" and ls.lut_from_train_ids()[0] == 0
    pal = ls.palette()
    assert pal.shape == (256, 3) and pal[1].tolist() == [1, 2, 3]
