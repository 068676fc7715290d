"""Colour maps for heatmaps and their legends (Qt-free, numpy only).

Why our own table: matplotlib is a dev-only dependency, and the legend must show exactly the colours the
canvas paints. 17 anchors sampled from matplotlib's perceptually uniform maps, linearly interpolated to
256 entries (the maximum deviation from matplotlib's table is a few levels of 255).
"""

from __future__ import annotations

import numpy as np

_ANCHORS = {
    "inferno": [
        (0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110), (113, 25, 110), (138, 34, 106),
        (163, 44, 97), (188, 55, 84), (210, 70, 68), (228, 90, 49), (241, 115, 29), (249, 142, 9),
        (252, 172, 17), (249, 203, 53), (242, 234, 105), (252, 255, 164),
    ],
    "viridis": [
        (68, 1, 84), (72, 24, 106), (71, 45, 123), (66, 64, 134), (59, 82, 139), (51, 99, 141),
        (44, 114, 142), (38, 130, 142), (33, 145, 140), (31, 160, 136), (40, 174, 128), (63, 188, 115),
        (94, 201, 98), (132, 212, 75), (173, 220, 48), (216, 226, 25), (253, 231, 37),
    ],
}  # fmt: skip
COLORMAPS = tuple(_ANCHORS)


def colormap_lut(name: str = "inferno") -> np.ndarray:
    """256 x 3 uint8 table: value index -> RGB."""
    if name not in _ANCHORS:
        raise ValueError(f"unknown colour map {name!r}; expected one of {', '.join(COLORMAPS)}")
    anchors = np.asarray(_ANCHORS[name], dtype=np.float64)
    xs = np.linspace(0.0, 1.0, len(anchors))
    t = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(t, xs, anchors[:, c]) for c in range(3)], axis=1)
    return np.clip(lut + 0.5, 0, 255).astype(np.uint8)


def apply_colormap(values: np.ndarray, name: str = "inferno") -> np.ndarray:
    """float H x W in 0..1 (NaN -> 0) -> uint8 H x W x 3 RGB."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32), nan=0.0)
    idx = np.clip(v * 255.0 + 0.5, 0, 255).astype(np.uint8)
    return colormap_lut(name)[idx]
