"""Which pretrained models the dialog offers first, and its texts."""

from __future__ import annotations

from app.model.zoo_choice import download_status, zoo_rows
from danet_core import zoo


def test_models_of_the_projects_label_set_come_first_best_first():
    rows = zoo_rows("cityscapes", cached=lambda e: e.name == "danet101" or e.filename.startswith("danet_r50"))
    fits = [r for r in rows if r.fits]
    assert len(rows) == len(zoo.ENTRIES) and len(fits) == 9
    assert rows[: len(fits)] == fits  # every fitting row before the others
    assert fits[0].name == "mmseg-danet-r101-cityscapes-512x1024-40k"  # 80.52, the best reported
    assert "[fits this project]" in fits[0].title and "mIoU 80.5" in fits[0].title
    official = next(r for r in rows if r.name == "official-danet101-cityscapes")
    assert "no published checksum" in official.details and "multi-grid 4,8,16" in official.details
    assert all("[downloaded]" in r.title for r in rows if r.cached)


def test_voc_project_and_no_label_set():
    assert zoo_rows("voc", cached=lambda e: False)[0].name == "mmseg-danet-r101-voc12aug-512x512-40k"
    assert not any(r.fits for r in zoo_rows(None, cached=lambda e: False))


def test_download_status_text():
    assert download_status(50_000_000, 200_000_000) == "Downloading model: 50 of 200 MB (25%)"
    assert download_status(3_000_000, 0) == "Downloading model: 3 MB"
