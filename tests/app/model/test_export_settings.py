"""The Export dialog's decisions without a window: the mapping proposal for any label set, the refusal
of unmapped classes, split/city parsing shared with the CLI, settings remembered in the project, the
export job and its summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.model.export_settings import (
    CITYSCAPES_TARGETS,
    ORIGIN_NAME,
    ORIGIN_NONE,
    ORIGIN_SAVED,
    SETTINGS_FILE,
    ExportSettings,
    complete_mapping,
    export_summary,
    load_export_settings,
    mapping_rows,
    plan_export,
    run_export_plan,
    save_export_settings,
)
from danet_core.formats.cityscapes_labels import CAMVID_TO_CITYSCAPES
from danet_core.labels import LabelSet, get_label_set
from danet_core.project import ImageStatus, Project

STREET = LabelSet.from_dict(
    {
        "name": "street",
        "classes": [
            {"name": "Road", "color": "#804080"},
            {"name": "Traffic Sign", "color": "#dcdc00"},
            {"name": "motorbike", "color": "#0000e6"},
            {"name": "Lamp", "color": "#ffff80"},
            {"name": "Animal", "color": "#40ff40"},
        ],
    }
)


def test_targets_are_the_cityscapes_labels_in_id_order() -> None:
    assert CITYSCAPES_TARGETS[0] == "unlabeled" and CITYSCAPES_TARGETS[7] == "road"
    assert CITYSCAPES_TARGETS[-1] == "bicycle" and len(CITYSCAPES_TARGETS) == 34


def test_camvid_proposal_is_the_builtin_mapping() -> None:
    rows = mapping_rows(get_label_set("camvid"))
    assert {r.class_name: r.target for r in rows} == CAMVID_TO_CITYSCAPES
    assert {r.origin for r in rows} == {"built-in camvid mapping"}


def test_cityscapes_maps_onto_itself_by_name() -> None:
    rows = mapping_rows(get_label_set("cityscapes"))
    assert all(r.target == r.class_name and r.origin == ORIGIN_NAME for r in rows)


def test_other_sets_by_name_and_synonym_else_unmapped() -> None:
    rows = {r.class_name: r for r in mapping_rows(STREET)}
    assert rows["Road"].target == "road" and rows["Traffic Sign"].target == "traffic sign"
    assert rows["motorbike"].target == "motorcycle" and rows["motorbike"].origin == ORIGIN_NAME
    assert rows["Lamp"].target is None and rows["Animal"].origin == ORIGIN_NONE
    voc = {r.class_name: r.target for r in mapping_rows(get_label_set("voc"))}
    assert voc["person"] == "person" and voc["motorbike"] == "motorcycle"
    assert voc["background"] is None and voc["cat"] is None  # nothing guessed


def test_saved_choices_replace_the_proposal_row_by_row() -> None:
    rows = {r.class_name: r for r in mapping_rows(STREET, {"Lamp": "pole", "Road": "road"})}
    assert (rows["Lamp"].target, rows["Lamp"].origin) == ("pole", ORIGIN_SAVED)
    assert rows["Road"].origin == ORIGIN_NAME  # the same as the proposal: shown as the proposal


def test_unmapped_classes_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"2 class\(es\) have no Cityscapes label: Lamp, Animal") as info:
        complete_mapping(STREET, {r.class_name: r.target for r in mapping_rows(STREET)})
    assert "'unlabeled'" in str(info.value)
    full = complete_mapping(
        STREET, {"Road": "road", "Traffic Sign": 20, "motorbike": 32, "Lamp": "pole", "Animal": "unlabeled"}
    )
    assert full["Traffic Sign"] == "traffic sign" and full["Animal"] == "unlabeled"
    with pytest.raises(ValueError, match="'Lamp' -> 'lamp post': expected a Cityscapes label name"):
        complete_mapping(STREET, {**full, "Lamp": "lamp post"})
    with pytest.raises(ValueError, match="id 0..33"):
        complete_mapping(STREET, {**full, "Lamp": 34})


def test_plan_one_format_goes_straight_in_several_into_subfolders(tmp_path: Path) -> None:
    camvid = get_label_set("camvid")
    one = plan_export(ExportSettings(formats=("cityscapes",), folder=str(tmp_path)), camvid)
    (job,) = one.jobs
    assert job.folder == tmp_path and job.options["mapping"] == CAMVID_TO_CITYSCAPES
    assert job.options["split"] == "auto" and job.options["city"] is None
    assert one.statuses == (ImageStatus.REVIEWED,)
    two = plan_export(
        ExportSettings(
            formats=("cityscapes", "mask"),
            folder=str(tmp_path),
            reviewed_only=False,
            split="train=0.8,val=0.2",
            city="camvid",
        ),
        camvid,
    )
    assert [(j.fmt, j.folder) for j in two.jobs] == [
        ("cityscapes", tmp_path / "cityscapes"),
        ("mask", tmp_path / "mask"),
    ]
    assert two.jobs[0].options["split"] == {"train": 0.8, "val": 0.2} and two.jobs[1].options == {}
    assert two.statuses is None and two.jobs[0].options["city"] == "camvid"


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"formats": ()}, "no format chosen"),
        ({"folder": "  "}, "no destination folder"),
        ({"split": "train=0.8,val=oops"}, "NAME=FRACTION"),
        ({"city": "my_city"}, "city 'my_city'"),
    ],
)
def test_plan_refuses_with_one_clear_message(tmp_path: Path, changes: dict, match: str) -> None:
    base = {"formats": ("cityscapes",), "folder": str(tmp_path)}
    with pytest.raises(ValueError, match=match):
        plan_export(ExportSettings(**{**base, **changes}), get_label_set("camvid"))


def test_plan_refuses_unmapped_only_for_cityscapes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Lamp, Animal"):
        plan_export(ExportSettings(formats=("cityscapes",), folder=str(tmp_path)), STREET)
    assert plan_export(ExportSettings(formats=("labelme",), folder=str(tmp_path)), STREET).jobs
    chosen = ExportSettings(folder=str(tmp_path), mapping={"Lamp": "pole", "Animal": "unlabeled"})
    (job,) = plan_export(chosen, STREET).jobs
    assert job.options["mapping"]["Lamp"] == "pole" and job.options["mapping"]["Road"] == "road"


def test_settings_round_trip_through_the_project_folder(tmp_path: Path) -> None:
    settings = ExportSettings(
        formats=("cityscapes", "labelme"),
        folder="/data/out",
        reviewed_only=False,
        split="train=0.8,val=0.2",
        city="graz",
        mapping={"Lamp": "pole", "Animal": "unlabeled"},
    )
    path = save_export_settings(tmp_path, settings, STREET)
    assert path == tmp_path / SETTINGS_FILE
    assert json.loads(path.read_text())["label_set"] == "street"
    loaded = load_export_settings(tmp_path, STREET)
    assert loaded.settings == settings and loaded.note == ""
    assert list(tmp_path.iterdir()) == [path]  # atomic write: no temp file left


def test_no_file_gives_the_defaults_without_a_note(tmp_path: Path) -> None:
    loaded = load_export_settings(tmp_path, STREET)
    assert loaded.settings == ExportSettings() and loaded.note == ""


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "Expecting property name"),
        ("[1, 2]", "expected a JSON object"),
        ('{"formats": ["pdf"]}', "formats ['pdf']"),
        ('{"reviewed_only": "yes"}', "reviewed_only 'yes': expected a bool"),
        ('{"cityscapes": {"split": "a/b"}}', "split 'a/b'"),
        ('{"cityscapes": {"mapping": {"Lamp": "lamp post"}}}', "'Lamp' -> 'lamp post'"),
        ('{"cityscapes": {"mapping": {"Tree": "vegetation"}}}', "not classes of label set 'street'"),
        ('{"label_set": "camvid", "cityscapes": {"mapping": {}}}', "saved for label set 'camvid'"),
    ],
)
def test_a_hand_broken_file_is_named_and_the_proposal_used(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / SETTINGS_FILE).write_text(text)
    loaded = load_export_settings(tmp_path, STREET)
    assert loaded.settings == ExportSettings()
    assert str(tmp_path / SETTINGS_FILE) in loaded.note and problem in loaded.note
    assert "proposed settings" in loaded.note


def test_undecodable_file_is_a_note_too(tmp_path: Path) -> None:
    (tmp_path / SETTINGS_FILE).write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot be used" in load_export_settings(tmp_path, STREET).note


@pytest.fixture
def street_project(tmp_path: Path) -> Project:
    """Four 24 x 16 images in two folders, each reviewed with a mask of
    Road, Traffic Sign, Lamp and unlabeled pixels."""
    rng = np.random.default_rng(1)
    for rel in ("a/one.png", "a/two.png", "b/three.png", "b/four.png"):
        path = tmp_path / "images" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 24, 3), dtype=np.uint8)).save(path)
    labels = tmp_path / "street.json"
    STREET.save(labels)
    project = Project.create(tmp_path / "proj", tmp_path / "images", labels)
    for rec in project.images():
        project.save_mask(rec.id, rng.choice(np.array([0, 1, 3, 255], np.uint8), (16, 24)), status="reviewed")
    yield project
    project.close()


def test_run_and_summary(street_project: Project, tmp_path: Path) -> None:
    settings = ExportSettings(
        formats=("cityscapes", "mask"),
        folder=str(tmp_path / "out"),
        split="train=0.5,val=0.5",
        mapping={"Lamp": "pole", "Animal": "unlabeled"},
    )
    plan = plan_export(settings, street_project.label_set)
    seen: list[tuple[int, int]] = []
    results = run_export_plan(street_project, plan, progress=lambda d, t, m: seen.append((d, t)))
    assert [job.fmt for job, _ in results] == ["cityscapes", "mask"]
    assert all(r.done == 4 and r.ok for _, r in results)
    assert seen[-1] == (2000, 2000) and all(t == 2000 for _, t in seen)
    text, ok = export_summary(results)
    assert ok and f"cityscapes: 4 image(s) exported to {tmp_path / 'out' / 'cityscapes'}" in text
    written = sorted((tmp_path / "out/cityscapes/leftImg8bit").glob("*/*/*.png"))
    splits = {p.parent.parent.name for p in written}
    per = ", ".join(f"{s} {sum(p.parent.parent.name == s for p in written)}" for s in sorted(splits))
    assert f"by split: {per}; names in mapping.csv" in text
    assert f"mask: 4 image(s) exported to {tmp_path / 'out' / 'mask'}" in text
    ids = [np.asarray(Image.open(p)) for p in (tmp_path / "out/cityscapes/gtFine").rglob("*_labelIds.png")]
    # Road -> road 7, Traffic Sign -> traffic sign 20, Lamp -> pole 17, unlabeled pixels -> 0
    assert set(np.unique(np.stack(ids)).tolist()) == {0, 7, 17, 20}


def test_summary_lists_each_failed_image_up_to_a_limit(tmp_path: Path) -> None:
    from app.model.export_settings import MAX_FAILED_LINES, ExportJob
    from danet_core.formats import BatchReport

    errors = [f"img{i}.png: unreadable" for i in range(MAX_FAILED_LINES + 5)]
    report = BatchReport(done=2, skipped=1, errors=errors)
    text, ok = export_summary([(ExportJob("labelme", tmp_path), report)])
    assert not ok and f"{len(errors)} failed:" in text and "1 skipped" in text
    assert "img0.png: unreadable" in text and f"img{MAX_FAILED_LINES - 1}.png" in text
    assert f"img{MAX_FAILED_LINES}.png" not in text and "... and 5 more (every line is in the log)" in text
