"""Qt-free session state: predictable project location, settings and recent projects, class mapping."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.model.class_mapping import build_class_mapping, normalise_name
from app.model.settings import (
    AppSettings,
    RecentProjects,
    default_project_dir,
    load_settings,
    projects_root,
    save_settings,
)
from danet_core.labels import get_label_set


def test_default_project_dir_is_deterministic_and_outside_the_images(tmp_path):
    images = tmp_path / "my images"
    images.mkdir()
    a = default_project_dir(images)
    b = default_project_dir(str(images) + "/")
    assert a == b
    assert a.parent == projects_root()
    assert a.name.startswith("my_images-")
    assert images not in a.parents
    other = tmp_path / "other" / "my images"
    other.mkdir(parents=True)
    assert default_project_dir(other) != a  # same folder name, different folder


def test_settings_roundtrip_and_bad_file_falls_back_with_defaults(tmp_path):
    path = tmp_path / "settings.json"
    s = AppSettings(precision="bf16", mode="slide", crop=512, stride=384, autosave_delay_ms=500)
    save_settings(s, path)
    assert load_settings(path) == s
    path.write_text("{not json")
    assert load_settings(path) == AppSettings()
    with pytest.raises(ValueError, match="precision 'fp8'"):
        AppSettings(precision="fp8").validate()
    path.write_text(json.dumps({"precision": "fp16", "unknown_key": 1}))
    assert load_settings(path).precision == "fp16"


def test_recent_projects_newest_first_unique_bounded(tmp_path):
    store = tmp_path / "recent.json"
    recent = RecentProjects.load(store)
    dirs = []
    for i in range(12):
        d = tmp_path / f"p{i}"
        d.mkdir()
        dirs.append(d)
        recent.add(d)
    recent.add(dirs[3])
    again = RecentProjects.load(store)
    assert again.entries[0].project_dir == dirs[3].resolve()
    assert len(again.entries) == 10
    assert len({e.project_dir for e in again.entries}) == 10
    dirs[11].rmdir()
    assert dirs[11].resolve() not in [e.project_dir for e in again.existing()]


def test_recent_projects_show_the_image_folder_and_read_the_old_list(tmp_path):
    import json

    from app.model.settings import RecentEntry

    store = tmp_path / "recent.json"
    project, images = tmp_path / "proj-1a2b3c4d", tmp_path / "street_frames"
    project.mkdir()
    recent = RecentProjects.load(store)
    recent.add(project, images)
    entry = RecentProjects.load(store).last()
    assert entry is not None and entry.image_root == images
    assert entry.label().startswith(str(images)) and project.name in entry.label()
    store.write_text(json.dumps([str(project)]))  # the format of earlier versions
    assert RecentProjects.load(store).entries == [RecentEntry(project)]


def test_cityscapes_model_maps_by_train_id_onto_label_ids():
    ls = get_label_set("cityscapes")
    classes = [{"name": c.name, "color": list(c.color), "train_id": c.train_id} for c in ls.train_classes()]
    mapping = build_class_mapping(classes, ls)
    assert mapping.method == "train_id"
    assert mapping.lut[0] == ls.by_name("road").index == 7
    assert mapping.lut[18] == ls.by_name("bicycle").index == 33
    label = np.array([[0, 18], [13, 1]], dtype=np.uint8)
    assert mapping.apply(label).tolist() == [[7, 33], [26, 8]]
    generic = [{"name": f"class_{i}", "color": [0, 0, 0], "train_id": i} for i in range(19)]
    assert build_class_mapping(generic, ls).method == "train_id"


def test_camvid_model_maps_by_name_onto_cityscapes_with_synonyms_and_unmapped():
    cs = get_label_set("cityscapes")
    camvid = get_label_set("camvid")
    classes = [{"name": c.name, "train_id": c.train_id} for c in camvid.train_classes()]
    mapping = build_class_mapping(classes, cs)
    assert mapping.method == "name"
    names = [c.name for c in camvid.train_classes()]
    assert mapping.lut[names.index("Pavement")] == cs.by_name("sidewalk").index
    assert mapping.lut[names.index("Tree")] == cs.by_name("vegetation").index
    assert mapping.lut[names.index("Car")] == cs.by_name("car").index
    assert "Fence" not in mapping.unmapped
    assert normalise_name("Traffic Sign") == normalise_name("SignSymbol") == "trafficsign"
    assert "SignSymbol" not in mapping.unmapped
    assert "mapped by name" in mapping.describe()


def test_unknown_class_names_are_left_unlabeled():
    camvid = get_label_set("camvid")
    mapping = build_class_mapping([{"name": "Sky"}, {"name": "spaceship"}], camvid)
    assert mapping.lut.tolist() == [camvid.by_name("Sky").index, 255]
    assert mapping.unmapped == ["spaceship"]
    with pytest.raises(ValueError, match="no classes"):
        build_class_mapping([], camvid)
