"""The image queue: the project's image records in the order and filter the user chose (Qt-free).

The image list widget is a view of this object; the session controller asks it which image "next",
"previous" and "mark reviewed and go to next" open. One owner for that question, so the keyboard, the
list and the tests always agree.

- Order: "name" (relative path) or "uncertainty" (unreviewed scored images most uncertain first, then
  unscored ones, then reviewed ones; :func:`app.model.review_queue.sort_key`).
- Filter: a set of statuses (None = all) and a case-insensitive substring of the relative path.
- ``next_to_review(current)``: in name order the first image after ``current`` in the shown list that is
  not reviewed, wrapping around to the top; in uncertainty order the most uncertain unreviewed image
  other than ``current`` (the list re-sorts as predictions arrive). ``current`` itself never counts,
  so it can be asked just before ``current`` is saved as reviewed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from app.model.review_queue import ORDERS, REVIEWED, ImageRecordLike, record_status, sort_key

# Status filters offered to the user: label -> statuses shown (None = every image).
STATUS_FILTERS: tuple[tuple[str, frozenset[str] | None], ...] = (
    ("All images", None),
    ("Not reviewed", frozenset({"new", "presegmented", "in_progress"})),
    ("New", frozenset({"new"})),
    ("Pre-segmented", frozenset({"presegmented"})),
    ("In progress", frozenset({"in_progress"})),
    ("Reviewed", frozenset({"reviewed"})),
)


class ImageQueue:
    """Records, order, filter; see the module docstring."""

    def __init__(self, records: Iterable[ImageRecordLike] = (), *, order: str = "name") -> None:
        self._records: list[ImageRecordLike] = []
        self._by_id: dict[int, int] = {}
        self.order = "name"
        self.statuses: frozenset[str] | None = None
        self.name_filter = ""
        self._visible: list[ImageRecordLike] | None = None
        self.set_order(order)
        self.set_records(records)

    # -- records ----------------------------------------------------------------------------------
    def set_records(self, records: Iterable[ImageRecordLike]) -> None:
        self._records = list(records)
        self._by_id = {r.id: i for i, r in enumerate(self._records)}
        self._visible = None

    def update_record(self, record: ImageRecordLike) -> bool:
        """Replace the record with ``record.id``; False when the queue does not hold it."""
        pos = self._by_id.get(record.id)
        if pos is None:
            return False
        self._records[pos] = record
        self._visible = None
        return True

    def record(self, image_id: int) -> ImageRecordLike | None:
        pos = self._by_id.get(image_id)
        return None if pos is None else self._records[pos]

    def records(self) -> list[ImageRecordLike]:
        """Every record, in the order they were given (the catalog's)."""
        return list(self._records)

    def __len__(self) -> int:
        return len(self._records)

    # -- order and filter -------------------------------------------------------------------------------
    def set_order(self, order: str) -> None:
        if order not in ORDERS:
            raise ValueError(f"queue order {order!r}; expected one of {', '.join(ORDERS)}")
        self.order = order
        self._visible = None

    def set_status_filter(self, statuses: Iterable[str] | None) -> None:
        self.statuses = None if statuses is None else frozenset(statuses)
        self._visible = None

    def set_name_filter(self, text: str) -> None:
        self.name_filter = text.strip().lower()
        self._visible = None

    def clear_filters(self) -> None:
        self.set_status_filter(None)
        self.set_name_filter("")

    def _shown(self, record: ImageRecordLike) -> bool:
        if self.statuses is not None and record_status(record) not in self.statuses:
            return False
        return not self.name_filter or self.name_filter in record.rel_path.lower()

    def visible(self) -> list[ImageRecordLike]:
        """The records the list shows, in the shown order (cached until something changes)."""
        if self._visible is None:
            shown = [r for r in self._records if self._shown(r)]
            self._visible = sorted(shown, key=lambda r: sort_key(r, self.order))
        return list(self._visible)

    def visible_ids(self) -> list[int]:
        return [r.id for r in self.visible()]

    # -- navigation -------------------------------------------------------------------------------------
    def step(self, after: int | None, step: int = 1) -> int | None:
        """The image ``step`` rows after ``after`` in the shown order (None past either end); from an
        image that is not shown, the first (step > 0) or last one."""
        ids = self.visible_ids()
        if not ids:
            return None
        if after not in ids:
            return ids[0] if step > 0 else ids[-1]
        pos = ids.index(after) + step
        return ids[pos] if 0 <= pos < len(ids) else None

    def following(self, current: int | None, count: int) -> list[int]:
        """Up to ``count`` images after ``current`` in the shown order (for prefetching)."""
        ids = self.visible_ids()
        start = ids.index(current) + 1 if current in ids else 0
        return [i for i in ids[start : start + count] if i != current]

    def next_to_review(self, current: int | None) -> int | None:
        """The image "mark reviewed and go to next" opens (see the module docstring); None when every
        other shown image is reviewed."""
        ids = self.visible_ids()
        if self.order == "uncertainty" or current not in ids:
            candidates: Sequence[int] = [i for i in ids if i != current]
        else:
            pos = ids.index(current)
            candidates = ids[pos + 1 :] + ids[:pos]
        for image_id in candidates:
            rec = self.record(image_id)
            if rec is not None and record_status(rec) != REVIEWED:
                return image_id
        return None
