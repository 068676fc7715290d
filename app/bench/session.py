"""App-shell benchmark: GUI event-loop stalls during pre-segmentation, image-switch time, and the time to
the quick preview and to the full result of an opened image.

    python -m app.bench.session                       # real CamVid frames at 2048 x 1024, DANet-R18
    python -m app.bench.session --size 480x360 --depth 50
    python -m app.bench.session --depth 50 --steps preview   # the preview target: 1024 x 2048, R50, <= 3 s

It opens the real :class:`MainWindow` (offscreen unless QT_QPA_PLATFORM says otherwise) on a temporary
project of CamVid images (../shared/data, resized to ``--size``) with a random-weight DANet checkpoint,
then

1. **stall**: runs "pre-segment all" while a 2 ms QTimer ticks in the GUI thread; a stall is the gap
   between two ticks minus the interval, i.e. how long the event loop could not react (target < 50 ms);
2. **switch**: opens each already-predicted image in turn and times from the request until its
   document is on the canvas and the viewport has repainted (target < 150 ms), separately for an image
   decoded from disk (cold) and one in the LRU cache (warm, e.g. going back, or prefetched);
3. **preview**: drops the stored prediction of an image, opens it and times from the request until the
   quick preview is on the canvas (``time_to_first_preview_s``, target <= 3 s for 1024 x 2048 with
   DANet-R50 on a 2-core CPU) and until the full result replaced it (``time_to_full_result_s``), through
   the app's own path (``PresegmentController`` -> ``InferenceQueue`` -> ``app.model.preview``). The FLOP
   counts of the image size are dropped first, so the preview time includes counting them, as for the
   first image of a size. ``--preview-budget-gflop`` overrides the budget (for a tiny smoke run).

``--steps`` chooses the measurements (default all). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[2]
CAMVID = REPO.parent / "shared" / "data" / "camvid" / "val"


def _make_images(folder: Path, n: int, size: tuple[int, int]) -> str:
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True)
    sources = sorted(CAMVID.glob("*.png"))[:n] if CAMVID.is_dir() else []
    for i in range(n):
        if sources:
            img = Image.open(sources[i]).convert("RGB").resize(size, Image.BILINEAR)
        else:
            rng = np.random.default_rng(i)
            img = Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))
        img.save(folder / f"img{i:03d}.png", compress_level=1)
    return "camvid val" if sources else "random noise (../shared/data absent)"


def _checkpoint(path: Path, depth: int) -> None:
    import torch

    from danet_core.checkpoints import save_checkpoint
    from danet_core.labels import get_label_set
    from danet_core.models import get_model

    torch.manual_seed(0)
    model = get_model("danet", depth=depth, num_classes=11).eval()
    classes = [
        {"name": c.name, "color": list(c.color), "train_id": c.train_id}
        for c in get_label_set("camvid").train_classes()
    ]
    save_checkpoint(path, model, classes=classes, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _wait(app, predicate, timeout_s: float) -> None:
    end = time.perf_counter() + timeout_s
    while not predicate():
        if time.perf_counter() > end:
            raise TimeoutError("benchmark step timed out")
        app.processEvents()
        time.sleep(0.0005)


def _measure_stall(app, window, timeout_s: float) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer

    pre = window.controller("presegment")
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(2)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    finished: list[object] = []
    loop = QEventLoop()
    pre.batch_finished.connect(finished.append)
    pre.batch_finished.connect(loop.quit)
    QTimer.singleShot(int(timeout_s * 1000), loop.quit)
    timer.start()
    t0 = time.perf_counter()
    summary = pre.start_batch()
    loop.exec()  # the real event loop, as in the app
    elapsed = time.perf_counter() - t0
    if not finished:
        raise TimeoutError(f"pre-segment all did not finish within {timeout_s} s")
    timer.stop()
    gaps = [(b - a) * 1000.0 - 2.0 for a, b in zip(ticks, ticks[1:], strict=False)]
    gaps.sort()
    return {
        "images_predicted": summary.total if summary else 0,
        "seconds": round(elapsed, 2),
        "max_stall_ms": round(gaps[-1], 1) if gaps else None,
        "p99_stall_ms": round(gaps[int(0.99 * (len(gaps) - 1))], 1) if gaps else None,
        "ticks": len(ticks),
    }


def _measure_switch(app, window) -> dict:
    session = window.controller("session")
    ids = window.image_list.visible_ids()
    session.cache.clear()
    cold = [_switch_once(app, window, i) for i in ids[1:]]
    warm = [_switch_once(app, window, i) for i in reversed(ids[1:-1])]  # going back: all cached
    return {
        "cold_median": round(statistics.median(cold), 1),
        "cold_max": round(max(cold), 1),
        "warm_median": round(statistics.median(warm), 1),
        "warm_max": round(max(warm), 1),
    }


def _switch_once(app, window, image_id: int) -> float:
    session = window.controller("session")
    t0 = time.perf_counter()
    session.open_image(image_id)
    _wait(app, lambda: session.image_id == image_id and window.canvas.document is session.document, 30)
    window.canvas.viewport().repaint()
    return (time.perf_counter() - t0) * 1000.0


def _measure_preview(app, window, timeout_s: float) -> dict:
    from app.model import preview

    session, pre = window.controller("session"), window.controller("presegment")
    target = next(i for i in window.image_list.visible_ids() if i != session.image_id)
    session.project.invalidate_predictions([target])
    session.refresh_records()
    pre.predictor._gflop.clear()  # count as for the first image of this size (see the docstring)
    seen: dict[str, float] = {}
    t0 = time.perf_counter()

    def stamp(kind: str, result) -> None:
        if result.image_id == target and kind not in seen:
            seen[kind] = time.perf_counter() - t0
            if result.preview is not None:
                seen["scale"] = result.preview.scale
                seen["gflop"], seen["full_gflop"] = result.preview.gflop, result.preview.full_gflop

    pre.preview_ready.connect(lambda r: stamp("preview", r))
    pre.prediction_ready.connect(lambda r: stamp("full", r))
    session.open_image(target)
    _wait(app, lambda: "full" in seen, timeout_s)
    return {
        "time_to_first_preview_s": round(seen["preview"], 2) if "preview" in seen else None,
        "time_to_full_result_s": round(seen["full"], 2),
        "preview_scale": seen.get("scale"),  # None: the plan predicts this image once
        "preview_gflop": round(seen["gflop"], 1) if "gflop" in seen else None,
        "full_gflop": round(seen["full_gflop"], 1) if "full_gflop" in seen else None,
        "preview_budget_gflop": preview.PREVIEW_GFLOP_BUDGET,
        "preview_target_s": 3.0,
    }


def run(args: argparse.Namespace) -> dict:
    from PySide6.QtWidgets import QApplication

    w, h = (int(v) for v in args.size.lower().split("x"))
    steps = {s.strip() for s in args.steps.split(",")}
    if not steps <= {"stall", "switch", "preview"}:
        raise SystemExit(f"--steps {args.steps!r}: expected a comma list of stall, switch, preview")
    if args.preview_budget_gflop is not None:
        from app.model import preview

        preview.PREVIEW_GFLOP_BUDGET = args.preview_budget_gflop
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["XDG_CONFIG_HOME"] = str(Path(tmp) / "config")  # do not touch the user's settings
        os.environ["XDG_DATA_HOME"] = str(Path(tmp) / "data")
        source = _make_images(Path(tmp) / "images", args.images, (w, h))
        ckpt = Path(tmp) / "model.pt"
        _checkpoint(ckpt, args.depth)
        from app.main_window import MainWindow
        from app.model.settings import AppSettings, RecentProjects
        from danet_core.project import Project

        with Project.create(Path(tmp) / "project", Path(tmp) / "images", "camvid") as p:
            p.add_model_version(ckpt, metrics={})
        settings = AppSettings(prefetch=0, slide_above=max(w, h))
        window = MainWindow(settings=settings, recent=RecentProjects(path=Path(tmp) / "recent.json"))
        window.resize(1400, 900)
        window.show()
        session, pre = window.controller("session"), window.controller("presegment")
        session.open_project(Path(tmp) / "project")
        _wait(app, lambda: pre.has_model() and session.image_id is not None, 120)
        _wait(app, lambda: not pre.queue.is_busy(), args.timeout)
        stall = _measure_stall(app, window, args.timeout) if "stall" in steps else None
        switch = _measure_switch(app, window) if "switch" in steps else None
        quick = _measure_preview(app, window, args.timeout) if "preview" in steps else None
        device = str(pre.predictor.whole.device)
        session.close_project()
        window.close()
    return {
        "benchmark": "app.bench.session",
        "image_size": f"{w}x{h}",
        "images": args.images,
        "image_source": source,
        "model": f"danet resnet{args.depth}, random weights, {device}",
        "presegment_all": stall,
        "event_loop_stall_target_ms": 50,
        "switch_ms": switch,
        "switch_target_ms": 150,
        "preview": quick,
        "platform": f"{platform.platform()} ({os.cpu_count()} CPUs)",
        "qt_platform": os.environ["QT_QPA_PLATFORM"],
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="2048x1024", help="image size WxH (CamVid frames are resized)")
    parser.add_argument("--images", type=int, default=6, help="images in the project")
    parser.add_argument(
        "--depth", type=int, default=18, choices=(18, 34, 50, 101), help="DANet backbone depth"
    )
    parser.add_argument("--timeout", type=float, default=1200.0, help="seconds allowed for pre-segment all")
    parser.add_argument("--steps", default="stall,switch,preview", help="measurements to run (comma list)")
    parser.add_argument(
        "--preview-budget-gflop",
        type=float,
        default=None,
        help="override app.model.preview.PREVIEW_GFLOP_BUDGET (e.g. for a tiny smoke run)",
    )
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app.bench.session", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
