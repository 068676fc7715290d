"""ImageQueue: the app state behind the image list (order, filters, next / previous / next to review)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from app.model.image_queue import STATUS_FILTERS, ImageQueue
from tests.app.model.fake_records import Rec

FILTERS = dict(STATUS_FILTERS)


def _records() -> list[Rec]:
    return [
        Rec(1, "seq1/a.png", uncertainty=0.2),
        Rec(2, "seq1/b.png", uncertainty=0.9),
        Rec(3, "seq2/c.png", status="reviewed", uncertainty=0.99),
        Rec(4, "seq2/d.png", status="new"),
        Rec(5, "seq2/e.png", status="in_progress", uncertainty=0.5),
    ]


def test_orders_and_unknown_order() -> None:
    q = ImageQueue(_records())
    assert q.visible_ids() == [1, 2, 3, 4, 5]
    q.set_order("uncertainty")
    assert q.visible_ids() == [2, 5, 1, 4, 3]  # scored by uncertainty, unscored, then reviewed
    with pytest.raises(ValueError, match="queue order 'size'"):
        q.set_order("size")


def test_status_and_name_filters_combine() -> None:
    q = ImageQueue(_records())
    q.set_status_filter(FILTERS["Not reviewed"])
    assert q.visible_ids() == [1, 2, 4, 5]
    q.set_name_filter("  SEQ2/ ")  # case-insensitive substring of the relative path
    assert q.visible_ids() == [4, 5]
    q.clear_filters()
    assert q.visible_ids() == [1, 2, 3, 4, 5] and len(q) == 5


def test_step_and_following() -> None:
    q = ImageQueue(_records())
    assert q.step(2) == 3 and q.step(2, -1) == 1
    assert q.step(5) is None and q.step(1, -1) is None
    assert q.step(99) == 1 and q.step(99, -1) == 5  # from an image not shown: first / last
    assert q.following(3, 2) == [4, 5] and q.following(5, 2) == [] and q.following(None, 2) == [1, 2]
    assert ImageQueue().step(None) is None


def test_next_to_review_by_name_wraps_and_respects_the_filter() -> None:
    q = ImageQueue(_records())
    assert q.next_to_review(2) == 4  # 3 is reviewed
    assert q.next_to_review(5) == 1  # wraps to the top
    q.set_name_filter("seq2")
    assert q.next_to_review(4) == 5 and q.next_to_review(5) == 4
    q.set_status_filter(FILTERS["Reviewed"])
    assert q.next_to_review(3) is None


def test_next_to_review_by_uncertainty_skips_current() -> None:
    q = ImageQueue(_records(), order="uncertainty")
    assert q.next_to_review(None) == 2 and q.next_to_review(2) == 5 and q.next_to_review(3) == 2


def test_update_record_resorts_and_unknown_ids_are_refused() -> None:
    q = ImageQueue(_records(), order="uncertainty")
    assert q.visible_ids()[0] == 2
    assert q.update_record(replace(q.record(2), status="reviewed"))
    assert q.visible_ids() == [5, 1, 4, 2, 3]  # the reviewed image sank; the cache was dropped
    assert not q.update_record(Rec(42, "x.png"))
    assert q.record(42) is None and [r.id for r in q.records()] == [1, 2, 3, 4, 5]
