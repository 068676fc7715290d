"""The canvas benchmark runs end to end on a tiny image and reports consistent figures."""

from __future__ import annotations

import pytest

from app.bench.canvas import bench_size

pytestmark = pytest.mark.gui


def test_bench_reports_dirty_rect_rendering_and_undo_memory(qapp) -> None:
    r = bench_size(320, 200, dabs=12, strokes=5, brush=9)
    assert r["dab_latency_ms"]["n"] == 12 and r["dab_latency_ms"]["moves_without_repaint"] == 0
    # a 9 px brush moved 3..12 px re-renders a small rectangle, never the whole overlay
    assert 0 < r["rerendered_px_per_dab"]["median"] < 30 * 30 < r["rerendered_px_per_dab"]["image_px"]
    hist = r["undo_history"]
    assert hist["steps"] == 5 and 0 < hist["payload_bytes"] < 5 * 2 * 320 * 200
