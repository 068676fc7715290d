"""Pure numpy rendering of masks and heatmaps into 4-channel pixel buffers (no Qt).

The canvas keeps one full-size overlay buffer and, after each edit, re-renders only the changed
rectangle with :func:`render_overlay_into`; Qt then wraps the buffer without copying. Pixels are either
fully opaque (a class colour) or fully transparent (unlabeled, or inside a region in outline mode), so
straight and premultiplied alpha coincide and the whole layer's opacity is applied when drawing.

Channel order is a parameter: ``"bgra"`` is the memory layout of Qt's ``Format_ARGB32_Premultiplied``
on little-endian machines (the fastest format to draw), ``"rgba"`` the usual numpy/PIL layout.

Colour maps (inferno, viridis, magma, turbo, gray) are matplotlib's, sampled at 33 points and linearly
interpolated to 256 entries (largest difference to matplotlib: 4.4/255), so the app needs no
matplotlib at run time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np

_ORDERS = {"rgba": (0, 1, 2, 3), "bgra": (2, 1, 0, 3)}

# 33 RGB stops per map, hex-encoded, sampled from matplotlib.colormaps[name] at linspace(0, 1, 33).
_CMAP_STOPS = {
    "inferno": (
        "0000040403120b0724150b37210c4a2f0a5b3d09654a0c6b57106e64156e71196e7d1e6d8a226a972766a32c61b0315b"
        "bc3754c73e4cd24644db503be45a31eb6628f1731df68013f98e09fb9d07fcac11fbbc21f9cb35f5db4cf2ea69f3f68a"
        "fcffa4"
    ),
    "viridis": (
        "440154470d6048186a482374472d7b4537814240863e49893b528b375b8d33638d2f6b8e2c728e297a8e26828e23898e"
        "21918c1f988b1fa08822a78528ae8032b67a3fbc734ec36b5ec96270cf5784d44b98d83eaddc30c2df23d8e219ece51b"
        "fde725"
    ),
    "magma": (
        "0000040303120a0822130d341d114729115a36106b440f7651127c5d177f6a1c81762181832681902a819c2e7faa337d"
        "b73779c43c75d0416fdc4869e75263ef5d5ef56b5cf9795dfc8961fd9869fea772feb67cfec488fed395fde2a3fcf0b2"
        "fcfdbf"
    ),
    "turbo": (
        "30123b392a734040a24456c7466be34680f64294ff37a8fa28bceb1ccdd818ddc21fe9af32f2984ef97d6dfe628bff4b"
        "a4fc3cb9f635cdec34dfdf37eecf3af8be39fdac34fe962bfb7e21f46617eb500edf3f08d02f05be2102a91601920b01"
        "7a0403"
    ),
}
COLORMAPS: tuple[str, ...] = (*_CMAP_STOPS, "gray")


def _order(order: str) -> tuple[int, int, int, int]:
    try:
        return _ORDERS[order]
    except KeyError:
        raise ValueError(f"channel order {order!r}: expected one of {sorted(_ORDERS)}") from None


def overlay_lut(label_set: Any, *, order: str = "bgra") -> np.ndarray:
    """uint8 256 x 4: mask value -> class colour, opaque; unlabeled and unknown values transparent."""
    idx = _order(order)
    lut = np.zeros((256, 4), dtype=np.uint8)
    for c in label_set.classes:
        rgba = (*c.color, 255)
        lut[int(c.index)] = [rgba[i] for i in idx]
    ignore = int(getattr(label_set, "ignore_index", 255))
    lut[ignore] = 0
    return lut


def boundary_mask(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """bool (y1-y0) x (x1-x0): True where a pixel differs from one of its 4 neighbours.

    Neighbours outside the requested box but inside the image are looked at (a one-pixel margin), so a
    rectangle rendered alone matches the same rectangle of a full-image render. The image border is not
    a boundary.
    """
    h, w = mask.shape
    ya, yb, xa, xb = max(y0 - 1, 0), min(y1 + 1, h), max(x0 - 1, 0), min(x1 + 1, w)
    sub = mask[ya:yb, xa:xb]
    edge = np.zeros(sub.shape, dtype=bool)
    dv = sub[1:, :] != sub[:-1, :]
    dh = sub[:, 1:] != sub[:, :-1]
    edge[1:, :] |= dv
    edge[:-1, :] |= dv
    edge[:, 1:] |= dh
    edge[:, :-1] |= dh
    return edge[y0 - ya : y0 - ya + (y1 - y0), x0 - xa : x0 - xa + (x1 - x0)]


def render_overlay(
    mask: np.ndarray,
    lut: np.ndarray,
    rect: tuple[int, int, int, int] | None = None,
    *,
    outline: bool = False,
) -> np.ndarray:
    """Colour the ``rect`` = (x, y, width, height) part of ``mask`` (default: all) through ``lut``.

    Returns uint8 h x w x 4. In outline mode only class boundaries are drawn, so the image shows
    through the inside of each region.
    """
    h, w = mask.shape
    x0, y0, rw, rh = (0, 0, w, h) if rect is None else rect
    x0, y0 = max(int(x0), 0), max(int(y0), 0)
    x1, y1 = min(x0 + int(rw), w), min(y0 + int(rh), h)
    # one 4-byte gather per pixel instead of four 1-byte ones (2.5x faster on 8000 x 6000)
    lut32 = np.ascontiguousarray(lut, dtype=np.uint8).view(np.uint32).reshape(256)
    out32 = lut32[mask[y0:y1, x0:x1]]
    if outline:
        out32[~boundary_mask(mask, x0, y0, x1, y1)] = 0
    return out32.view(np.uint8).reshape(y1 - y0, x1 - x0, 4)


def render_overlay_into(
    buffer: np.ndarray,
    mask: np.ndarray,
    lut: np.ndarray,
    rect: tuple[int, int, int, int],
    *,
    outline: bool = False,
) -> tuple[int, int, int, int]:
    """Re-render ``rect`` of ``buffer`` (H x W x 4, same H x W as ``mask``) in place.

    In outline mode the rectangle is grown by one pixel first, because an edit changes whether its
    neighbours lie on a boundary. Returns the rectangle actually written (x, y, width, height).
    """
    h, w = mask.shape
    x, y, rw, rh = rect
    m = 1 if outline else 0
    x0, y0 = max(x - m, 0), max(y - m, 0)
    x1, y1 = min(x + rw + m, w), min(y + rh + m, h)
    if x0 >= x1 or y0 >= y1:
        return x0, y0, 0, 0
    buffer[y0:y1, x0:x1] = render_overlay(mask, lut, (x0, y0, x1 - x0, y1 - y0), outline=outline)
    return x0, y0, x1 - x0, y1 - y0


@lru_cache(maxsize=16)
def colormap(name: str) -> np.ndarray:
    """uint8 256 x 3 RGB table of a colour map (see :data:`COLORMAPS`)."""
    if name == "gray":
        ramp = np.arange(256, dtype=np.uint8)
        table = np.stack([ramp, ramp, ramp], axis=1)
    else:
        try:
            hexes = _CMAP_STOPS[name]
        except KeyError:
            raise ValueError(f"colour map {name!r}: expected one of {list(COLORMAPS)}") from None
        stops = np.frombuffer(bytes.fromhex(hexes), dtype=np.uint8).reshape(-1, 3).astype(np.float64)
        xs = np.linspace(0.0, 1.0, len(stops))
        grid = np.linspace(0.0, 1.0, 256)
        table = np.stack([np.interp(grid, xs, stops[:, c]) for c in range(3)], axis=1)
        table = np.clip(np.round(table), 0, 255).astype(np.uint8)
    table.setflags(write=False)
    return table


def render_heatmap(values: np.ndarray, cmap: str = "inferno", *, order: str = "bgra") -> np.ndarray:
    """Colour a float H x W map of values in 0..1 (clipped) as uint8 H x W x 4, opaque.

    NaN pixels (no value) are transparent. The layer's opacity is applied when it is drawn.
    """
    values = np.asarray(values)
    if values.ndim != 2 or not np.issubdtype(values.dtype, np.floating):
        raise ValueError(f"heatmap must be a float H x W array; got {values.dtype} with shape {values.shape}")
    idx = _order(order)
    table = colormap(cmap)
    lut = np.empty((257, 4), dtype=np.uint8)
    lut[:256, :3] = table[:, [idx[0], idx[1], idx[2]]]
    lut[:256, 3] = 255
    lut[256] = 0
    nan = np.isnan(values)
    q = np.clip(np.nan_to_num(values, nan=0.0) * 255.0 + 0.5, 0, 255).astype(np.int16)
    q[nan] = 256
    return lut[q]


def legend_gradient(cmap: str = "inferno", steps: int = 256) -> np.ndarray:
    """uint8 steps x 3 RGB colours from value 0 to 1, for drawing a legend bar."""
    if steps < 2:
        raise ValueError(f"legend needs at least 2 steps; got {steps}")
    table = colormap(cmap)
    pos = np.round(np.linspace(0, 255, steps)).astype(np.intp)
    return table[pos].copy()


def attention_heatmap(row: np.ndarray, height: int, width: int) -> np.ndarray:
    """PAM row (float h' x w', sums to ~1) -> float32 H x W in 0..1, scaled to its maximum, bilinear.

    Why scaled to the maximum: a row of a 1/8-resolution feature map spreads ~1 over thousands of cells,
    so its raw values would all render black; the heatmap shows where the query looks, not how much.
    """
    r = np.asarray(row, dtype=np.float32)
    peak = float(r.max()) if r.size else 0.0
    r = r / peak if peak > 0 else r
    return np.clip(cv2.resize(r, (width, height), interpolation=cv2.INTER_LINEAR), 0.0, 1.0)
