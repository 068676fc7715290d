"""The import dialog's decisions without a window: guess then preview, texts, when Import may start,
the request built from the preview, the summary at the end, what happens to the open image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from app.model.import_preview import (
    FORMAT_CHOICES,
    STATUS_CHOICES,
    after_import,
    existing_text,
    guess_text,
    import_blocker,
    inspect_folder,
    preview_text,
    request_from,
    result_summary,
)
from danet_core.formats import BatchReport, import_labels
from danet_core.project import ImageStatus, Project


def _annotations(folder: Path, names: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        Image.fromarray(np.full((48, 64), 2, np.uint8)).save(folder / name)
    return folder


def test_choices_cover_every_import_format_and_default_to_reviewed() -> None:
    from danet_core.formats import IMPORT_FORMATS

    assert [c.fmt for c in FORMAT_CHOICES] == list(IMPORT_FORMATS)
    assert all(c.explanation for c in FORMAT_CHOICES)
    assert STATUS_CHOICES[0][0] == ImageStatus.REVIEWED


def test_inspection_guesses_previews_and_asks_about_existing_masks(
    small_project: Path, tmp_path: Path
) -> None:
    folder = _annotations(tmp_path / "annot", ["f0.png", "f1.png", "f4.png", "other.png"])
    with Project.open(small_project) as project:
        inspection = inspect_folder(project, folder, "labelme", True)
        assert inspection.fmt == "mask" and "single-channel" in guess_text(inspection.guess)
        text = preview_text(inspection)
        assert text.startswith("3 of 4 files match project images; 1 match none.")
        assert "other.png: no project image named other.*" in text
        assert existing_text(inspection.preview) == (
            "2 of the matched images already have a mask (2 reviewed). Keep them or replace them?"
        )
        assert import_blocker(inspection, None) == "Choose whether the existing masks are kept or replaced."
        assert import_blocker(inspection, False) == ""
        request = request_from(inspection, ImageStatus.IN_PROGRESS, True)
        assert request.options()["overwrite"] is True and set(request.expected or {}) == {
            m.image_id for m in inspection.preview.matched
        }
        report = import_labels(project, request.folder, request.fmt, **request.options())
        assert report.done == 3 and len(report.details["replaced"]) == 2
        assert project.find("f4.png") is not None
        assert project.record(project.find("f4.png").id).status == ImageStatus.IN_PROGRESS


def test_the_chosen_format_is_kept_without_guessing_and_errors_are_shown(
    small_project: Path, tmp_path: Path
) -> None:
    folder = _annotations(tmp_path / "annot", ["f4.png"])
    with Project.open(small_project) as project:
        inspection = inspect_folder(project, folder, "palette", False)
        assert inspection.fmt == "palette" and inspection.guess is None and guess_text(None) == ""
        assert existing_text(inspection.preview) == "" and import_blocker(inspection, None) == ""
        wrong = inspect_folder(project, folder, "cityscapes", False)
        assert wrong.preview is None and "not Cityscapes" in wrong.error
        assert preview_text(wrong) == wrong.error and import_blocker(wrong, True) == wrong.error
        empty = inspect_folder(project, _annotations(tmp_path / "empty", []), "mask", True)
        assert "Could not tell the format" in guess_text(empty.guess)
        assert preview_text(empty) == "No Plain 8-bit masks files in this folder."
        assert import_blocker(empty, None) == "No file matches a project image."
    assert import_blocker(None, None) == "Choose a folder."


def test_result_summary_separates_unmatched_from_failed() -> None:
    report = BatchReport(done=3, skipped=2)
    report.errors = ["/a/zzz.png: no project image named zzz.*", "/a/b.png: ids [50] are not in label set"]
    report.details = {
        "unmatched": [report.errors[0]],
        "kept_existing": ["x.png"],
        "changed_since_preview": ["y.png"],
        "replaced": ["z.png"],
    }
    text, warn = result_summary(report, ImageStatus.REVIEWED)
    assert warn and text.splitlines()[0] == "Imported 3 masks as reviewed."
    assert "1 replaced masks are kept" in text and "Kept the existing mask of 1 images." in text
    assert "Kept 1 masks that were saved after the preview." in text
    assert "1 files matched no project image" in text and "1 failed:\n  /a/b.png: ids [50]" in text
    text, warn = result_summary(BatchReport(done=1), ImageStatus.IN_PROGRESS)
    assert not warn and text == "Imported 1 masks as in progress."


def test_after_import_reopens_only_without_unsaved_edits() -> None:
    assert after_import(False, True) == "keep" and after_import(False, False) == "keep"
    assert after_import(True, False) == "reopen" and after_import(True, True) == "ask"
