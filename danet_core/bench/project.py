"""Project store and export speed: open + list a project of N images, export at 2048x1024.

Open: a folder of N tiny PNG files is scanned once (``create``), then ``Project.open`` followed by
``images()`` (what the app does when it shows the image list) is timed ``--repeats`` times.
Export: ``--export-images`` images of 2048x1024 whose masks are the real Cityscapes sample frame's
labelIds upscaled (nearest) when ``../shared/data`` is present, random blobs otherwise; each format
is timed per image. The Cityscapes polygons are checked with cityscapesScripts' json2labelImg when it
is installed (``polygon_pixel_agreement``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image

SAMPLE = Path(__file__).resolve().parents[2].parent / "shared/data/cityscapes_sample"
SAMPLE_IDS = SAMPLE / "gtFine/val/frankfurt/frankfurt_000000_000294_gtFine_labelIds.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--images", type=int, default=10_000, help="catalog size for the open benchmark")
    parser.add_argument("--repeats", type=int, default=5, help="timed opens")
    parser.add_argument("--export-images", type=int, default=3, help="2048x1024 images per export format")
    parser.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a temp dir)")


def _tiny_png() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def bench_open(work: Path, n: int, repeats: int) -> dict[str, Any]:
    from danet_core.project import Project

    root = work / "open_images"
    data = _tiny_png()
    for i in range(n):
        folder = root / f"seq{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"frame_{i:06d}.png").write_bytes(data)
    t0 = time.perf_counter()
    Project.create(work / "open_project", root, "cityscapes").close()
    create_s = time.perf_counter() - t0
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        with Project.open(work / "open_project") as project:
            listed = len(project.images())
        times.append(time.perf_counter() - t0)
    assert listed == n, f"listed {listed} of {n}"
    return {
        "images": n,
        "create_with_scan_s": round(create_s, 3),
        "open_and_list_s_median": round(statistics.median(times), 4),
        "open_and_list_s_max": round(max(times), 4),
        "target_s": 1.0,
    }


def _mask_2048(rng: np.random.Generator) -> tuple[np.ndarray, str]:
    if SAMPLE_IDS.is_file():
        ids = np.asarray(Image.open(SAMPLE_IDS))
        return cv2.resize(ids, (2048, 1024), interpolation=cv2.INTER_NEAREST), "cityscapes sample upscaled"
    small = rng.choice(np.array([7, 8, 11, 21, 23, 26], np.uint8), size=(32, 64))
    return cv2.resize(small, (2048, 1024), interpolation=cv2.INTER_NEAREST), "random blobs"


def bench_export(work: Path, n: int) -> dict[str, Any]:
    from danet_core.formats import export_project
    from danet_core.project import Project

    rng = np.random.default_rng(0)
    mask, source = _mask_2048(rng)
    root = work / "export_images"
    root.mkdir(parents=True)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (1024, 2048, 3), dtype=np.uint8)).save(root / f"img{i}.png")
    result: dict[str, Any] = {"images": n, "size": "2048x1024", "mask": source}
    with Project.create(work / "export_project", root, "cityscapes") as project:
        for rec in project.images():
            project.save_mask(rec.id, mask, status="reviewed")
        for fmt in ("cityscapes", "labelme", "palette", "mask"):
            t0 = time.perf_counter()
            report = export_project(project, work / f"out_{fmt}", fmt)
            elapsed = time.perf_counter() - t0
            assert report.ok and report.done == n, report.summary()
            result[f"{fmt}_s_per_image"] = round(elapsed / n, 3)
    result["polygon_pixel_agreement"] = _agreement(work / "out_cityscapes", work)
    return result


def _agreement(out: Path, work: Path) -> float | None:
    try:
        from cityscapesscripts.preparation.json2labelImg import json2labelImg
    except ImportError:
        return None
    worst = 1.0
    for polygons in sorted(out.rglob("*_gtFine_polygons.json")):
        drawn_path = work / "drawn.png"
        json2labelImg(str(polygons), str(drawn_path), "ids")
        drawn = np.asarray(Image.open(drawn_path))
        ids = np.asarray(Image.open(str(polygons).replace("_polygons.json", "_labelIds.png")))
        worst = min(worst, float((drawn == ids).mean()))
    return round(worst, 6)


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="danet-bench-project-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return {
            "benchmark": "project",
            "open": bench_open(work, args.images, args.repeats),
            "export": bench_export(work, args.export_images),
        }
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)
