"""The import's dry run (preview_labels) and what the import keeps: matched / unmatched files with reasons,
existing masks, one file per image, masks saved meanwhile or changed since the preview, replaced copies."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from danet_core.formats import FormatError, guess_format, import_labels, preview_labels
from danet_core.jobs import Cancelled
from danet_core.project import ImageStatus, Project


def _mask_file(path: Path, value: int, size: tuple[int, int] = (24, 16)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8)).save(path)


def _masks(small: Project) -> dict[int, np.ndarray | None]:
    return {r.id: small.load_mask(r.id) for r in small.images()}


def _fresh(tmp_path: Path, write_image) -> Project:
    for name in ("a.png", "b.png", "c.png"):
        write_image(tmp_path / "fresh" / name)
    return Project.create(tmp_path / "fresh-proj", tmp_path / "fresh", "camvid")


def test_preview_lists_matched_unmatched_and_existing_and_writes_nothing(
    small: Project, tmp_path: Path
) -> None:
    folder = tmp_path / "annot"
    _mask_file(folder / "a.png", 1)
    _mask_file(folder / "b.png", 2)
    _mask_file(folder / "x" / "a.png", 4)  # the same image as a.png (by stem): only the first counts
    _mask_file(folder / "zzz.png", 1)
    (folder / "notes.txt").write_text("not a mask")
    before = _masks(small)
    preview = preview_labels(small, folder, "mask")
    assert [m.rel_path for m in preview.matched] == ["a.png", "b.png"]
    assert all(m.has_mask and m.status == ImageStatus.REVIEWED for m in preview.matched)
    assert len(preview.existing) == 2 and preview.files == 4
    reasons = {u.source.relative_to(folder).as_posix(): u.reason for u in preview.unmatched}
    assert reasons["zzz.png"] == "no project image named zzz.*"
    assert reasons["x/a.png"].startswith("matches the same image as") and "a.png" in reasons["x/a.png"]
    assert all(np.array_equal(small.load_mask(i), m) for i, m in before.items())
    assert not (small.project_dir / "conflicts").exists()


def test_the_import_does_what_the_preview_said(small: Project, tmp_path: Path) -> None:
    folder = tmp_path / "annot"
    _mask_file(folder / "a.png", 1)
    _mask_file(folder / "x" / "a.png", 4)
    _mask_file(folder / "zzz.png", 1)
    report = import_labels(small, folder, "mask", overwrite=True)
    assert report.done == 1 and report.details["imported"] == ["a.png"]
    assert small.load_mask(small.find("a.png").id)[0, 0] == 1  # not 4: the second file is refused
    assert len(report.details["unmatched"]) == 2 and len(report.errors) == 2


def test_replace_only_what_the_preview_showed_and_keep_a_copy(small: Project, tmp_path: Path) -> None:
    folder = tmp_path / "annot"
    _mask_file(folder / "a.png", 1)
    _mask_file(folder / "b.png", 1)
    preview = preview_labels(small, folder, "mask")
    b = small.find("b.png").id
    edited = np.full((16, 24), 8, np.uint8)
    small.save_mask(b, edited)  # the app saves b after the preview was shown
    report = import_labels(small, folder, "mask", overwrite=True, expected=preview.stamps())
    assert report.details["imported"] == ["a.png"] and report.details["changed_since_preview"] == ["b.png"]
    assert np.array_equal(small.load_mask(b), edited)
    assert small.load_mask(small.find("a.png").id)[0, 0] == 1
    assert report.details["replaced"] == ["a.png"]
    copies = list((small.project_dir / "conflicts").glob("*-replaced-*.png"))
    assert len(copies) == 1 and np.asarray(Image.open(copies[0]))[8, 10] == 3  # the old Road mask


def test_a_mask_saved_during_the_import_is_kept(tmp_path: Path, write_image) -> None:
    project = _fresh(tmp_path, write_image)
    folder = tmp_path / "annot"
    for name in ("a.png", "b.png"):
        _mask_file(folder / name, 1)
    b = project.find("b.png").id
    edited = np.full((16, 24), 8, np.uint8)

    def autosave_after_first(done: int, _total: int, _msg: str) -> None:
        if done == 1:  # the app's autosave writes b while the import is on a.png
            project.save_mask(b, edited)

    report = import_labels(project, folder, "mask", progress=autosave_after_first)
    assert report.details["imported"] == ["a.png"] and report.details["kept_existing"] == ["b.png"]
    assert np.array_equal(project.load_mask(b), edited)
    assert project.record(project.find("a.png").id).status == ImageStatus.REVIEWED
    project.close()


def test_preview_of_labelme_reads_image_path_and_reports_bad_json(small: Project, tmp_path: Path) -> None:
    folder = tmp_path / "lm"
    folder.mkdir()
    doc = {"imageHeight": 16, "imageWidth": 24, "shapes": [], "imagePath": "../images/c.png"}
    (folder / "whatever.json").write_text(json.dumps(doc))
    (folder / "b.json").write_text("{broken")
    preview = preview_labels(small, folder, "labelme")
    assert [m.rel_path for m in preview.matched] == ["c.png"]
    assert len(preview.unmatched) == 1 and preview.unmatched[0].reason.startswith("malformed labelme JSON")


def test_preview_of_cityscapes_needs_a_cityscapes_project(
    small: Project, tmp_path: Path, write_image
) -> None:
    gt = tmp_path / "gtFine" / "val" / "x"
    gt.mkdir(parents=True)
    _mask_file(gt / "x_000000_000001_gtFine_labelIds.png", 7)
    _mask_file(gt / "x_000000_000009_gtFine_labelIds.png", 7)
    with pytest.raises(FormatError, match="not Cityscapes"):
        preview_labels(small, tmp_path / "gtFine", "cityscapes")
    write_image(tmp_path / "cs" / "x_000000_000001_leftImg8bit.png")
    with Project.create(tmp_path / "cs-proj", tmp_path / "cs", "cityscapes") as p:
        preview = preview_labels(p, tmp_path / "gtFine", "cityscapes")
        assert [m.rel_path for m in preview.matched] == ["x_000000_000001_leftImg8bit.png"]
        assert not preview.existing
        assert "no project image named x_000000_000009_leftImg8bit" in preview.unmatched[0].reason


def test_preview_errors_and_cancel(small: Project, tmp_path: Path) -> None:
    with pytest.raises(FormatError, match="not a folder; expected a folder of mask PNGs"):
        preview_labels(small, tmp_path / "nowhere", "mask")
    with pytest.raises(FormatError, match="unknown import format 'tiff'"):
        preview_labels(small, tmp_path, "tiff")
    folder = tmp_path / "annot"
    _mask_file(folder / "a.png", 1)
    with pytest.raises(Cancelled):
        preview_labels(small, folder, "mask", should_stop=lambda: True)


def test_guess_format_from_the_folder(tmp_path: Path) -> None:
    gt = tmp_path / "gt"
    _mask_file(gt / "x_000000_000001_gtFine_labelIds.png", 7)
    (gt / "x_000000_000001_gtFine_polygons.json").write_text("{}")
    assert guess_format(gt).fmt == "cityscapes"
    lm = tmp_path / "lm"
    lm.mkdir()
    (lm / "a.json").write_text("{}")
    assert guess_format(lm).fmt == "labelme"
    pal = tmp_path / "pal"
    pal.mkdir()
    img = Image.fromarray(np.zeros((4, 4), np.uint8), mode="L").convert("P")
    img.putpalette([0, 0, 0, 128, 0, 0] * 128)
    img.save(pal / "a.png")
    assert guess_format(pal).fmt == "palette"
    plain = tmp_path / "plain"
    _mask_file(plain / "a.png", 3)
    guess = guess_format(plain)
    assert guess.fmt == "mask" and "1 single-channel PNG" in guess.reason
    rgb = tmp_path / "rgb"
    rgb.mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(rgb / "photo.png")
    assert guess_format(rgb).fmt is None and "colour images" in guess_format(rgb).reason
    empty = tmp_path / "empty"
    empty.mkdir()
    assert guess_format(empty).fmt is None
    assert guess_format(tmp_path / "nowhere").fmt is None


def test_real_camvid_annotations_preview(camvid_project: Project, camvid_root: Path) -> None:
    preview = preview_labels(camvid_project, camvid_root / "valannot", "mask")
    assert len(preview.matched) == 4 and len(preview.existing) == 4
    assert len(preview.unmatched) == len(list((camvid_root / "valannot").glob("*.png"))) - 4
    assert guess_format(camvid_root / "valannot").fmt == "mask"


def test_cli_dry_run_prints_the_preview_and_writes_nothing(small: Project, tmp_path: Path, capsys) -> None:
    from danet_core.cli import main

    folder = tmp_path / "annot"
    _mask_file(folder / "a.png", 1)
    _mask_file(folder / "zzz.png", 1)
    before = _masks(small)
    argv = ["project", "import", str(small.project_dir), str(folder), "--format", "mask", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 mask files" in out and "1 match project images (1 of them already have a mask)" in out
    assert "zzz.png: no project image named zzz.*" in out
    assert all(np.array_equal(small.load_mask(i), m) for i, m in before.items())
