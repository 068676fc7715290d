"""Review queue ordering, "next", uncertainty scores and effort figures on hand-made records."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.image_queue import STATUS_FILTERS, ImageQueue
from app.model.review_queue import (
    format_effort,
    project_effort,
    sort_key,
    uncertainty_score,
)
from tests.app.model.fake_records import Rec

NOT_REVIEWED = dict(STATUS_FILTERS)["Not reviewed"]


def order_queue(records: list, order: str = "uncertainty") -> list:
    """The unreviewed records in review order: the queue filtered to "Not reviewed"."""
    queue = ImageQueue(records, order=order)
    queue.set_status_filter(NOT_REVIEWED)
    return queue.visible()


def next_image(records: list, current: int | None, order: str = "uncertainty"):
    """The record "mark reviewed and go to next" opens after ``current`` (None when none is left)."""
    queue = ImageQueue(records, order=order)
    nxt = queue.next_to_review(current)
    return None if nxt is None else queue.record(nxt)


def _records() -> list[Rec]:
    return [
        Rec(1, "a.png", uncertainty=0.2),
        Rec(2, "b.png", uncertainty=0.9),
        Rec(3, "c.png", status="reviewed", uncertainty=0.99),
        Rec(4, "d.png", status="new", uncertainty=None),
        Rec(5, "e.png", status="in_progress", uncertainty=0.5),
        Rec(6, "f.png", uncertainty=0.5),
    ]


def test_uncertainty_order_most_uncertain_first_reviewed_excluded_unscored_last() -> None:
    order = [r.id for r in order_queue(_records(), "uncertainty")]
    # 0.9, then the 0.5 tie broken by name, then 0.2, then the unscored image
    assert order == [2, 5, 6, 1, 4]


def test_name_order_and_unknown_order() -> None:
    assert [r.id for r in order_queue(_records(), "name")] == [1, 2, 4, 5, 6]
    with pytest.raises(ValueError, match="queue order 'size'"):
        order_queue(_records(), "size")


def test_next_image_by_uncertainty_skips_current() -> None:
    recs = _records()
    assert next_image(recs, None).id == 2
    assert next_image(recs, 2).id == 5
    # the current image may be reviewed (just marked): still the most uncertain unreviewed one
    assert next_image(recs, 3).id == 2


def test_next_image_by_name_wraps_and_none_when_done() -> None:
    recs = _records()
    assert next_image(recs, 2, "name").id == 4
    assert next_image(recs, 6, "name").id == 1  # wraps around
    done = [Rec(1, "a.png", status="reviewed"), Rec(2, "b.png")]
    assert next_image(done, 2, "name") is None
    assert next_image(done, 2) is None


def test_status_enum_values_are_understood() -> None:
    from enum import Enum

    class Status(str, Enum):  # noqa: UP042 - str() of such a member is "Status.REVIEWED"
        REVIEWED = "reviewed"
        NEW = "new"

    recs = [Rec(1, "a.png", status=Status.REVIEWED), Rec(2, "b.png", status=Status.NEW)]
    assert [r.id for r in order_queue(recs)] == [2]


def test_uncertainty_score_entropy_and_margin() -> None:
    entropy = np.array([[0.0, 1.0], [0.5, 0.5]], dtype=np.float32)
    assert uncertainty_score(entropy) == pytest.approx(0.5)
    margin = np.array([[0.05, 0.9], [0.09, 0.5]], dtype=np.float32)
    assert uncertainty_score(margin=margin, method="margin") == pytest.approx(0.5)
    with pytest.raises(ValueError, match="needs the margin map"):
        uncertainty_score(entropy, method="margin")
    with pytest.raises(ValueError, match="expected one of"):
        uncertainty_score(entropy, method="variance")
    with pytest.raises(ValueError, match="no finite values"):
        uncertainty_score(np.full((2, 2), np.nan, dtype=np.float32))


def test_project_effort_shares_totals_and_per_version() -> None:
    recs = [
        Rec(1, "a.png", status="reviewed", model_version=None, pixels_changed=100, seconds_spent=60.0),
        Rec(2, "b.png", status="reviewed", model_version=1, pixels_changed=20, seconds_spent=20.0),
        Rec(3, "c.png", status="reviewed", model_version=1, pixels_changed=None, seconds_spent=None),
        Rec(4, "d.png", status="in_progress", pixels_changed=50, seconds_spent=5.0),
    ]
    eff = project_effort(recs)
    assert (eff.images, eff.reviewed, eff.measured) == (4, 3, 2)
    assert eff.pixels_changed == 120 and eff.pixels == 200
    assert eff.share_changed == pytest.approx(0.6)
    assert eff.seconds_per_image == pytest.approx(40.0)
    assert eff.share_by_model_version == {"none": pytest.approx(1.0), "1": pytest.approx(0.2)}
    assert format_effort(eff) == "3/4 reviewed · 60.0% of pixels corrected · 40 s per image"


def test_project_effort_empty_project() -> None:
    eff = project_effort([])
    assert eff.share_changed is None and eff.seconds_per_image is None
    assert format_effort(eff) == "0/0 reviewed"


def test_sort_key_for_the_whole_list_puts_reviewed_last() -> None:
    ordered = sorted(_records(), key=lambda r: sort_key(r, "uncertainty"))
    assert [r.id for r in ordered] == [2, 5, 6, 1, 4, 3]
    assert [r.id for r in sorted(_records(), key=lambda r: sort_key(r, "name"))] == [1, 2, 3, 4, 5, 6]


def test_accepting_a_weak_models_prediction_untouched_is_asked() -> None:
    from app.model.review_queue import weak_acceptance_question

    q = weak_acceptance_question(5, 10_000, 2, 0.04)
    assert "0.1% of the pixels" in q and "model v2" in q and "mIoU 4%" in q
    assert "unmeasured" in weak_acceptance_question(0, 10_000, 3, None)
    assert weak_acceptance_question(500, 10_000, 2, 0.04) == ""  # 5% corrected: the user worked on it
    assert weak_acceptance_question(5, 10_000, 2, 0.6) == ""  # a good model's output may be right
    assert weak_acceptance_question(None, 10_000, None, None) == ""  # no prediction: drawn by hand
