"""Mask and heatmap rendering to pixel buffers (no Qt)."""

from __future__ import annotations

import numpy as np
import pytest

from app.model.render import (
    COLORMAPS,
    boundary_mask,
    colormap,
    legend_gradient,
    overlay_lut,
    render_heatmap,
    render_overlay,
    render_overlay_into,
)
from danet_core.labels import get_label_set


@pytest.fixture
def camvid():
    return get_label_set("camvid")


def test_overlay_colours_and_transparent_unlabeled(camvid) -> None:
    mask = np.array([[0, 3], [255, 8]], np.uint8)
    rgba = render_overlay(mask, overlay_lut(camvid, order="rgba"))
    assert rgba[0, 0].tolist() == [*camvid.by_index(0).color, 255]
    assert rgba[1, 1].tolist() == [*camvid.by_index(8).color, 255]
    assert rgba[1, 0, 3] == 0
    bgra = render_overlay(mask, overlay_lut(camvid, order="bgra"))
    assert bgra[1, 1].tolist() == [*camvid.by_index(8).color[::-1], 255]
    with pytest.raises(ValueError, match="channel order"):
        overlay_lut(camvid, order="argb")


def test_outline_mode_keeps_only_boundaries(camvid) -> None:
    mask = np.zeros((7, 7), np.uint8)
    mask[2:5, 2:5] = 1
    out = render_overlay(mask, overlay_lut(camvid, order="rgba"), outline=True)
    drawn = out[..., 3] > 0
    inner_square_ring = np.zeros((7, 7), bool)
    inner_square_ring[1:6, 1:6] = True
    inner_square_ring[3, 3] = False  # the centre of the 3x3 square is not on a boundary
    inner_square_ring[1, 1] = inner_square_ring[1, 5] = inner_square_ring[5, 1] = inner_square_ring[5, 5] = (
        False
    )
    assert np.array_equal(drawn, inner_square_ring)


def test_rectangle_render_matches_full_render(camvid) -> None:
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 4, (40, 50)).astype(np.uint8)
    mask[rng.random((40, 50)) < 0.1] = 255
    lut = overlay_lut(camvid)
    for outline in (False, True):
        full = render_overlay(mask, lut, outline=outline)
        buf = np.zeros_like(full)
        # re-render in patches: the union must equal the full render
        for y in range(0, 40, 13):
            for x in range(0, 50, 17):
                render_overlay_into(buf, mask, lut, (x, y, 17, 13), outline=outline)
        assert np.array_equal(buf, full)
    rect = render_overlay_into(buf, mask, lut, (10, 10, 5, 5), outline=True)
    assert rect == (9, 9, 7, 7)
    assert np.array_equal(boundary_mask(mask, 0, 0, 50, 40)[5:9, 5:9], boundary_mask(mask, 5, 5, 9, 9))


def test_heatmap_colours_nan_and_range() -> None:
    values = np.array([[0.0, 1.0], [np.nan, 2.0]], np.float32)
    rgba = render_heatmap(values, "inferno", order="rgba")
    table = colormap("inferno")
    assert rgba[0, 0, :3].tolist() == table[0].tolist() and rgba[0, 1, :3].tolist() == table[255].tolist()
    assert rgba[1, 0, 3] == 0 and rgba[0, 0, 3] == 255
    assert rgba[1, 1].tolist() == rgba[0, 1].tolist()  # clipped to 1
    with pytest.raises(ValueError, match="float H x W"):
        render_heatmap(np.zeros((2, 2), np.uint8))
    with pytest.raises(ValueError, match="colour map"):
        colormap("nope")


def test_colormaps_match_matplotlib() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    for name in COLORMAPS:
        ours = colormap(name).astype(int)
        ref = np.round(matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255).astype(int)
        assert np.abs(ours - ref).max() <= 5, name


def test_legend_gradient() -> None:
    g = legend_gradient("viridis", 5)
    assert g.shape == (5, 3) and g[0].tolist() == colormap("viridis")[0].tolist()
    assert g[-1].tolist() == colormap("viridis")[255].tolist()
    with pytest.raises(ValueError):
        legend_gradient("viridis", 1)


def test_attention_heatmap_is_scaled_to_its_peak_and_resized() -> None:
    from app.model.render import attention_heatmap

    row = np.array([[0.0, 0.1], [0.2, 0.4]], dtype=np.float32)
    heat = attention_heatmap(row, 8, 6)
    assert heat.shape == (8, 6) and heat.dtype == np.float32
    assert heat.max() == pytest.approx(1.0) and heat.min() >= 0.0
    assert heat[-1, -1] > heat[0, 0]
    assert (attention_heatmap(np.zeros((2, 2), np.float32), 4, 4) == 0).all()
