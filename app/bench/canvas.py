"""Canvas benchmark: brush dab latency and undo-history memory; prints one JSON object.

    python -m app.bench.canvas                      # 2048 x 1024 (the issue's targets)
    python -m app.bench.canvas --large              # also 8000 x 6000 (usability check)

Dab latency is the time from delivering one mouse-move event to the viewport (a brush segment) until
the event loop has processed the resulting repaint, i.e. edit + dirty-rectangle re-render + paint of
the changed screen area. It runs on Qt's offscreen platform unless QT_QPA_PLATFORM says otherwise, so
it measures our code and Qt's raster painting, not a compositor. The mask starts as a real CamVid
label map scaled up when ../shared/data is present (realistic class boundaries), else random blocks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[2]
CAMVID_LABEL = REPO.parent / "shared" / "data" / "camvid" / "trainannot" / "0001TP_006690.png"


def _start_mask(h: int, w: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    import cv2

    from danet_core.images import load_mask_png

    if CAMVID_LABEL.is_file():
        small = load_mask_png(CAMVID_LABEL).copy()  # may be a read-only view of the PIL buffer
        small[small == 11] = 255  # CamVid void is unlabeled in projects
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST), str(CAMVID_LABEL.name)
    blocks = rng.integers(0, 11, (h // 64 + 1, w // 64 + 1)).astype(np.uint8)
    return np.kron(blocks, np.ones((64, 64), np.uint8))[:h, :w].copy(), "random 64 px blocks"


def _stroke_path(
    rng: np.random.Generator, box: tuple[float, float, float, float], n: int
) -> list[tuple[float, float]]:
    """A wandering path of ``n`` points, 3..12 image pixels apart (a hand moving the mouse), inside
    ``box`` = (x0, y0, x1, y1), the part of the image visible in the view."""
    x0, y0, x1, y1 = box
    x, y = rng.uniform(x0, x1), rng.uniform(y0, y1)
    angle = rng.uniform(0, 2 * np.pi)
    pts = []
    for _ in range(n):
        angle += rng.normal(0, 0.3)
        step = rng.uniform(3, 12)
        nx, ny = x + step * np.cos(angle), y + step * np.sin(angle)
        if not (x0 <= nx <= x1 and y0 <= ny <= y1):  # bounce off the edge of the visible area
            angle += np.pi
            nx, ny = x + step * np.cos(angle), y + step * np.sin(angle)
        x, y = float(np.clip(nx, x0, x1)), float(np.clip(ny, y0, y1))
        pts.append((x, y))
    return pts


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 3),
        "p95": round(float(np.percentile(values, 95)), 3),
        "max": round(max(values), 3),
    }


class _Driver:
    """Owns an offscreen canvas on one document and feeds it synthetic mouse events."""

    def __init__(self, w: int, h: int, brush: int, rng: np.random.Generator) -> None:
        from PySide6.QtWidgets import QApplication

        from app.model.document import AnnotationDocument
        from app.widgets.canvas import CanvasView
        from danet_core.labels import get_label_set

        self.app = QApplication.instance() or QApplication(sys.argv[:1])
        self.w, self.h, self.rng = w, h, rng
        mask, self.mask_source = _start_mask(h, w, rng)
        rgb = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
        self.canvas = CanvasView()
        self.canvas.resize(1600, 900)
        self.canvas.show()
        t = time.perf_counter()
        self.canvas.set_image(rgb)
        self.canvas.set_document(AnnotationDocument(mask, get_label_set("camvid")))
        self.load_s = time.perf_counter() - t
        self.canvas.set_zoom(1.0)
        self.canvas.set_current_class(3)
        self.canvas.set_brush_size(brush)
        self.canvas.centerOn(w / 2, h / 2)
        self.app.processEvents()
        # paths stay in the visible part of the image: a change off screen needs no repaint
        seen = self.canvas.mapToScene(self.canvas.viewport().rect()).boundingRect()
        self.box = (
            max(seen.left(), 0) + brush,
            max(seen.top(), 0) + brush,
            min(seen.right(), w) - brush,
            min(seen.bottom(), h) - brush,
        )

    def send(self, kind: str, x: float, y: float) -> None:
        from PySide6.QtCore import QPointF, Qt
        from PySide6.QtGui import QMouseEvent
        from PySide6.QtWidgets import QApplication

        types = {
            "press": QMouseEvent.Type.MouseButtonPress,
            "move": QMouseEvent.Type.MouseMove,
            "release": QMouseEvent.Type.MouseButtonRelease,
        }
        vp = self.canvas.viewport()
        pos = self.canvas.viewportTransform().map(QPointF(x, y))
        left = Qt.MouseButton.LeftButton
        button = Qt.MouseButton.NoButton if kind == "move" else left
        ev = QMouseEvent(types[kind], pos, vp.mapToGlobal(pos), button, left, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    def time_stroke(self, dabs: int) -> dict:
        """One long stroke; each segment timed from the event to the end of the repaint it causes."""
        from PySide6.QtCore import QEvent, QObject

        class PaintCounter(QObject):
            def __init__(self) -> None:
                super().__init__()
                self.count, self.area = 0, 0

            def eventFilter(self, obj, event) -> bool:  # noqa: N802 (Qt override)
                if event.type() == QEvent.Type.Paint:
                    self.count += 1
                    r = event.region().boundingRect()
                    self.area = r.width() * r.height()
                return False

        counter = PaintCounter()
        vp = self.canvas.viewport()
        vp.installEventFilter(counter)
        path = _stroke_path(self.rng, self.box, dabs + 1)
        self.send("press", *path[0])
        self.app.processEvents()
        lat, cpu, areas, screen, missed = [], [], [], [], 0
        for x, y in path[1:]:
            painted = counter.count
            c0, t0 = time.thread_time(), time.perf_counter()
            self.send("move", x, y)
            # the repaint is posted, not immediate: spin the event loop until it has been delivered
            while counter.count == painted and time.perf_counter() - t0 < 0.25:
                self.app.processEvents()
            lat.append((time.perf_counter() - t0) * 1000.0)
            cpu.append((time.thread_time() - c0) * 1000.0)
            missed += counter.count == painted
            areas.append(self.canvas.last_render_rect[2] * self.canvas.last_render_rect[3])
            screen.append(counter.area)
        self.send("release", *path[-1])
        self.app.processEvents()
        vp.removeEventFilter(counter)
        return {
            "dab_latency_ms": {"n": len(lat), **_summary(lat), "moves_without_repaint": missed},
            # CPU time of the GUI thread per dab: wall-clock outliers on a shared machine are mostly
            # scheduler time slices (multiples of ~4 ms) spent in other processes
            "dab_cpu_ms": _summary(cpu),
            "rerendered_px_per_dab": {"median": int(statistics.median(areas)), "image_px": self.w * self.h},
            "repainted_screen_px_per_dab": {
                "median": int(statistics.median(screen)),
                "viewport_px": vp.width() * vp.height(),
            },
        }

    def undo_history(self, strokes: int, segments: int = 20) -> dict:
        """Memory of ``strokes`` undo steps, cycling through the classes so every stroke changes pixels."""
        from app.widgets.undo import history_bytes

        stack = self.canvas.undo_stack
        stack.clear()
        i = 0
        while stack.count() < strokes:  # a stroke that changes nothing records no step
            i += 1
            self.canvas.set_current_class(i % 11)
            pts = _stroke_path(self.rng, self.box, segments + 1)
            self.send("press", *pts[0])
            for p in pts[1:]:
                self.send("move", *p)
            self.send("release", *pts[-1])
        self.app.processEvents()
        hist = history_bytes(stack)
        return {
            "steps": stack.count(),
            "segments_per_stroke": segments,
            "payload_bytes": hist,
            "payload_mib": round(hist / 2**20, 3),
            "mean_kib_per_step": round(hist / max(stack.count(), 1) / 1024, 1),
            "full_copy_equivalent_mib": round(stack.count() * 2 * self.w * self.h / 2**20, 1),
        }

    def close(self) -> None:
        self.canvas.set_document(None)
        self.canvas.close()
        self.canvas.deleteLater()
        self.app.processEvents()


def bench_size(w: int, h: int, *, dabs: int, strokes: int, brush: int, seed: int = 0) -> dict:
    """All figures for one image size (see the module docstring)."""
    driver = _Driver(w, h, brush, np.random.default_rng(seed))
    try:
        result = {
            "image": f"{w}x{h}",
            "start_mask": driver.mask_source,
            "brush_px": brush,
            "zoom": 1.0,
            "set_image_and_document_s": round(driver.load_s, 3),
            **driver.time_stroke(dabs),
            "undo_history": driver.undo_history(strokes),
        }
    finally:
        driver.close()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m app.bench.canvas", description=__doc__.splitlines()[0])
    ap.add_argument("--dabs", type=int, default=300, help="timed brush segments (default 300)")
    ap.add_argument("--strokes", type=int, default=100, help="undo steps for the memory figure")
    ap.add_argument("--brush", type=int, default=25, help="brush diameter in pixels")
    ap.add_argument("--large", action="store_true", help="also run 8000 x 6000")
    args = ap.parse_args(argv)
    runs = [bench_size(2048, 1024, dabs=args.dabs, strokes=args.strokes, brush=args.brush)]
    if args.large:
        runs.append(bench_size(8000, 6000, dabs=args.dabs, strokes=args.strokes, brush=args.brush))
    out = {
        "benchmark": "canvas",
        "qt_platform": os.environ.get("QT_QPA_PLATFORM", ""),
        "python": platform.python_version(),
        "cpu": platform.processor() or platform.machine(),
        "target": "median dab latency < 4 ms on 2048x1024, only the dirty rectangle re-rendered",
        "runs": runs,
    }
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
