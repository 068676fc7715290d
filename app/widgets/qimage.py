"""The one boundary between numpy pixel buffers and QImage (every numpy -> Qt image conversion is here).

QImages built here *wrap* numpy memory without copying, so writes into the array (the canvas'
dirty-rectangle re-render) are visible at the next paint. The caller must keep the array alive as long
as the QImage is used; :class:`WrappedImage` keeps both together for that reason.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import cv2
import numpy as np
from PySide6.QtGui import QImage

# Format_ARGB32(_Premultiplied) is stored B, G, R, A on little-endian machines, which is what the
# render helpers produce with order="bgra"; on big-endian machines RGBA8888 matches order="rgba".
if sys.byteorder == "little":
    CHANNEL_ORDER = "bgra"
    _FMT_ALPHA = QImage.Format.Format_ARGB32_Premultiplied
    _FMT_OPAQUE = QImage.Format.Format_RGB32
else:  # pragma: no cover - no big-endian CI
    CHANNEL_ORDER = "rgba"
    _FMT_ALPHA = QImage.Format.Format_RGBA8888_Premultiplied
    _FMT_OPAQUE = QImage.Format.Format_RGBX8888


@dataclass(eq=False)
class WrappedImage:
    """A QImage sharing the memory of ``buffer`` (uint8 H x W x 4 in :data:`CHANNEL_ORDER`)."""

    buffer: np.ndarray
    image: QImage

    @property
    def width(self) -> int:
        return int(self.buffer.shape[1])

    @property
    def height(self) -> int:
        return int(self.buffer.shape[0])


def wrap_buffer(buffer: np.ndarray, *, opaque: bool = False) -> WrappedImage:
    """Wrap a C-contiguous uint8 H x W x 4 array as a QImage without copying."""
    if buffer.dtype != np.uint8 or buffer.ndim != 3 or buffer.shape[2] != 4:
        raise ValueError(f"expected a uint8 H x W x 4 buffer; got {buffer.dtype} {buffer.shape}")
    if not buffer.flags.c_contiguous:
        raise ValueError("the buffer must be C-contiguous to be shared with a QImage")
    h, w = buffer.shape[:2]
    image = QImage(buffer.data, w, h, 4 * w, _FMT_OPAQUE if opaque else _FMT_ALPHA)
    return WrappedImage(buffer, image)


def rgb_to_wrapped(rgb: np.ndarray) -> WrappedImage:
    """Copy an RGB uint8 H x W x 3 image into a 32-bit buffer (the fastest format for Qt to draw)."""
    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB uint8 H x W x 3 image; got {rgb.dtype} {rgb.shape}")
    code = cv2.COLOR_RGB2BGRA if CHANNEL_ORDER == "bgra" else cv2.COLOR_RGB2RGBA
    buf = np.ascontiguousarray(cv2.cvtColor(np.ascontiguousarray(rgb), code))
    return wrap_buffer(buf, opaque=True)
