"""What Model ▸ Get a pretrained model… offers: the zoo's entries, best fit for the project first.

Decisions (unit-tested without a window): an entry *fits* when its outputs name the project's label set
(a Cityscapes project gets the Cityscapes models first, a VOC project the VOC ones); among the fitting
ones the best reported mIoU comes first; the others follow (their classes are mapped by name, so most
stay unlabeled). The text of each row and of the details pane is built here. Importing this module never
imports torch (danet_core.zoo does not).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from danet_core import zoo


@dataclass(frozen=True)
class ZooRow:
    name: str
    title: str
    details: str
    fits: bool
    cached: bool


def _title(entry: zoo.ZooEntry, fits: bool, cached: bool) -> str:
    ms = f" / {entry.miou_ms_flip:.1f} ms+flip" if entry.miou_ms_flip is not None else ""
    tags = " ".join(t for t in ("[fits this project]" if fits else "", "[downloaded]" if cached else "") if t)
    return (
        f"DANet-R{entry.depth} {entry.dataset.split(' (')[0]} {entry.train_crop[0]}x{entry.train_crop[1]} "
        f"({entry.source}, {entry.schedule}): mIoU {entry.miou:.1f}{ms}, ~{entry.approx_mb:.0f} MB {tags}"
    ).rstrip()


def zoo_rows(label_set: str | None, cached: Callable[[zoo.ZooEntry], bool] | None = None) -> list[ZooRow]:
    """Every zoo entry as a row; those whose label set is ``label_set`` first, best mIoU first."""
    is_cached = cached or (lambda e: zoo.cached_file(e).is_file())
    rows = []
    for entry in zoo.ENTRIES:
        fits = label_set is not None and entry.label_set == label_set
        have = is_cached(entry)
        rows.append(ZooRow(entry.name, _title(entry, fits, have), zoo.describe(entry), fits, have))
    order = {e.name: e for e in zoo.ENTRIES}
    return sorted(rows, key=lambda r: (not r.fits, -order[r.name].miou))


def download_status(done: int, total: int) -> str:
    """Status-bar text of a download in progress."""
    if total > 0:
        return f"Downloading model: {done / 1e6:.0f} of {total / 1e6:.0f} MB ({100 * done // total}%)"
    return f"Downloading model: {done / 1e6:.0f} MB"
