"""Loading images off the GUI thread: the image being opened (with its mask and cached prediction) and
list thumbnails.

Why: decoding a 2048 x 1024 PNG takes ~50 ms and an 8000 x 6000 JPEG about a second; done in the GUI
thread that freezes scrolling and painting. Decoded images of recently used and prefetched ids are kept in
a small LRU cache so switching back and forth is instant.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Hashable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage

from app.workers.base import FunctionWorker
from danet_core.images import load_image
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.project import MaskStamp, ProjectError

log = logging.getLogger(__name__)


@dataclass
class ImageBundle:
    """Everything needed to show one image: RGB (H x W x 3 uint8), saved mask and cached prediction."""

    image_id: int
    rgb: np.ndarray
    mask: np.ndarray | None  # uint8 H x W label-set indices, None = never saved
    prediction: tuple[np.ndarray, np.ndarray] | None  # (label indices, confidence 0..1)
    model_version: int | None
    mask_stamp: MaskStamp | None = None  # the mask file as loaded: saving over a changed one is refused


def _nbytes(value: Any) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    return sum(_nbytes(v) for v in value) if isinstance(value, tuple) else 0


class ImageCache:
    """Thread-safe LRU of decoded arrays (bounded by total bytes).

    Keys: ``("rgb", id, mtime_ns, size)`` for images and ``("pred", id, mtime_ns, size)`` for cached
    predictions, so an image replaced on disk or a prediction rewritten by a newer model is never
    served stale.
    """

    def __init__(self, max_bytes: int = 600_000_000) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > 1 and sum(_nbytes(v) for v in self._items.values()) > self.max_bytes:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def _image(project: Any, image_id: int, cache: ImageCache | None) -> np.ndarray:
    path = project.image_path(image_id)
    try:
        st = path.stat()
    except OSError:
        return load_image(path)  # names the missing file
    key = ("rgb", image_id, st.st_mtime_ns, st.st_size)  # a file replaced on disk is decoded again
    rgb = cache.get(key) if cache is not None else None
    if rgb is None:
        rgb = load_image(path)
        if cache is not None:
            cache.put(key, rgb)
    return rgb


def _prediction(
    project: Any, image_id: int, cache: ImageCache | None
) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        st = project.prediction_path(image_id).stat()
    except FileNotFoundError:
        return None
    key = ("pred", image_id, st.st_mtime_ns, st.st_size)
    hit = cache.get(key) if cache is not None else None
    if hit is None:
        hit = project.load_prediction(image_id)
        if hit is not None and cache is not None:
            cache.put(key, hit)
    return hit


def load_bundle(project: Any, image_id: int, cache: ImageCache | None = None) -> ImageBundle:
    """Decode image ``image_id`` and its cached prediction in parallel (or take them from ``cache``)
    and read its mask. PNG inflation releases the GIL, so the two decodes overlap."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(_prediction, project, image_id, cache)
        rgb = _image(project, image_id, cache)
        mask, stamp = project.load_mask_stamped(image_id)
        record = project.record(image_id)
        prediction = pending.result()
    h, w = rgb.shape[:2]
    if mask is not None and mask.shape != (h, w):
        raise ProjectError(
            f"{record.rel_path}: the saved mask is {mask.shape[1]}x{mask.shape[0]} but the image file is now "
            f"{w}x{h} (replaced on disk?); the mask is kept unchanged and the image is not opened"
        )
    if prediction is not None and prediction[0].shape != (h, w):
        log.info("dropping the stale cached prediction of image %d (size changed)", image_id)
        prediction = None
    return ImageBundle(image_id, rgb, mask, prediction, record.model_version, stamp)


def warm_cache(project: Any, image_ids: list[int], cache: ImageCache, *, progress=None, should_stop=None):
    """Decode the next images and their predictions into ``cache`` ahead of time (prefetch)."""
    for n, i in enumerate(image_ids):
        check_stop(should_stop)
        try:
            _image(project, i, cache)
            _prediction(project, i, cache)
        except ValueError as exc:  # a broken file is reported when the user opens it
            log.info("prefetch skipped image %d: %s", i, exc)
        if progress is not None:
            progress(n + 1, len(image_ids), "")


def load_thumbnails(
    items: list[tuple[int, Path]],
    size: tuple[int, int],
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> list[tuple[int, np.ndarray | str]]:
    """Small RGB arrays (fit into ``size`` = (w, h)) of the image files; for an unreadable file the
    reason instead (the list marks it, so a broken file is seen before it is opened).

    ``Image.draft`` lets JPEG decoding skip to a reduced scale, so a 24 Mpx photo costs a few ms.
    """
    out: list[tuple[int, np.ndarray | str]] = []
    for n, (image_id, path) in enumerate(items):
        check_stop(should_stop)
        try:
            with Image.open(path) as img:
                img.draft("RGB", size)
                img = ImageOps.exif_transpose(img)
                img.thumbnail(size)
                out.append((image_id, np.asarray(img.convert("RGB"), dtype=np.uint8).copy()))
        except (OSError, ValueError, SyntaxError, MemoryError, Image.DecompressionBombError) as exc:
            log.info("no thumbnail for %s: %s", path, exc)  # one bad file never blanks its batch
            out.append((image_id, f"cannot be read: {type(exc).__name__}: {str(exc)[:120]}"))
        if progress is not None:
            progress(n + 1, len(items), "")
    return out


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """A QImage owning a copy of an H x W x 3 uint8 array."""
    a = np.ascontiguousarray(rgb)
    h, w = a.shape[:2]
    return QImage(a.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()


class ThumbnailLoader(QObject):
    """Queue of thumbnail requests served by one background worker at a time.

    Signals ``thumbnail_ready(int, QImage)`` and ``thumbnail_failed(int, str)`` (the reason).
    """

    thumbnail_ready = Signal(int, QImage)
    thumbnail_failed = Signal(int, str)

    def __init__(self, size: tuple[int, int] = (96, 72), parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self._pending: OrderedDict[int, Path] = OrderedDict()
        self._worker: FunctionWorker | None = None
        # bumped by clear(): results of a batch started before (another project's images, whose ids
        # the new project reuses) are dropped instead of shown as this project's thumbnails
        self._generation = 0

    def request(self, items: list[tuple[int, Path]]) -> None:
        for image_id, path in items:
            self._pending[image_id] = path
        self._pump()

    def clear(self) -> None:
        self._pending.clear()
        self._generation += 1
        if self._worker is not None:
            self._worker.cancel()

    def _pump(self) -> None:
        if self._worker is not None or not self._pending:
            return
        batch = []
        while self._pending and len(batch) < 16:
            batch.append(self._pending.popitem(last=False))
        worker = FunctionWorker(load_thumbnails, batch, self.size, name="thumbnails")
        worker.finished.connect(lambda results, g=self._generation: self._deliver(results, g))
        worker.done.connect(self._on_done)
        self._worker = worker
        worker.start()

    def _deliver(self, results: list[tuple[int, np.ndarray | str]], generation: int) -> None:
        if generation != self._generation:
            return
        for image_id, result in results:
            if isinstance(result, str):
                self.thumbnail_failed.emit(image_id, result)
            else:
                self.thumbnail_ready.emit(image_id, rgb_to_qimage(result))

    def _on_done(self) -> None:
        self._worker = None
        self._pump()
