"""The canvas and panel texts and view rules of app.model.view_hints (no Qt)."""

from __future__ import annotations

import pytest

from app.model.view_hints import (
    AutoFit,
    cam_value_text,
    class_name,
    hotkey_classes,
    hotkey_label,
    image_row_text,
    lock_banner,
    palette_order,
    replace_hint,
    zoom_text,
)
from danet_core.labels import get_label_set


@pytest.fixture
def camvid():
    return get_label_set("camvid")


def test_number_keys_are_the_first_ten_classes_in_palette_order(camvid) -> None:
    keys = hotkey_classes(camvid)
    assert list(keys) == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0"]
    assert keys["1"] == camvid.by_name("Sky").index and keys["0"] == camvid.by_name("Pedestrian").index
    cityscapes = get_label_set("cityscapes")
    first = hotkey_classes(cityscapes)
    assert first["1"] == cityscapes.by_name("road").index  # evaluated classes before "unlabeled", "ego ..."
    assert palette_order(cityscapes)[-1].ignore_in_eval and not palette_order(cityscapes)[0].ignore_in_eval
    assert hotkey_label(0, "road") == "1  road" and hotkey_label(9, "x") == "0  x"
    assert hotkey_label(10, "bicycle") == "    bicycle"


def test_lock_banner_names_the_class_or_unlabeled(camvid) -> None:
    assert lock_banner(camvid, None) is None
    assert lock_banner(camvid, camvid.by_name("Road").index) == (
        "Painting only over Road — Esc or click here to clear"
    )
    assert lock_banner(camvid, 255).startswith("Painting only over unlabeled pixels")
    assert lock_banner(None, 3).startswith("Painting only over class 3")
    assert class_name(camvid, 200) == "index 200"


def test_replace_hint_names_source_and_target(camvid) -> None:
    car, road = camvid.by_name("Car").index, camvid.by_name("Road").index
    assert replace_hint(camvid, car, road, locked=False).startswith("Replace Car → Road: drag")
    assert "(paint-only-over class)" in replace_hint(camvid, car, road, locked=True)
    assert replace_hint(camvid, 255, road, locked=False).startswith("Replace unlabeled → Road")
    assert replace_hint(camvid, None, road, locked=False) == (
        "Replace: the class under the first point becomes Road"
    )
    assert "already the current class" in replace_hint(camvid, road, road, locked=False)


def test_zoom_text_rounds_to_whole_percents_above_ten() -> None:
    assert zoom_text(1.0) == "zoom 100 %"
    assert zoom_text(1.25**3) == "zoom 195 %"
    assert zoom_text(0.031) == "zoom 3.1 %"
    assert zoom_text(0.0999) == "zoom 10 %"


def test_cam_values_small_zero_and_share_of_row() -> None:
    assert cam_value_text(0.25, 0.5) == "0.2500 (50 % of the row maximum)"
    assert cam_value_text(2.68e-05, 0.0234) == "2.680e-05 (0.115 % of the row maximum)"
    assert cam_value_text(1e-9, 0.5).endswith("(< 0.1 % of the row maximum)")
    assert cam_value_text(0.0, 0.5).startswith("0 (below float32's 1.4e-45")
    assert cam_value_text(0.3, 0.0) == "0.3000"


def test_image_row_shows_the_uncertainty_only_in_uncertainty_order() -> None:
    assert image_row_text("a.png", "New", 0.41, "name") == "a.png\nNew"
    assert image_row_text("a.png", "Pre-segmented", 0.41234, "uncertainty") == (
        "a.png\nPre-segmented · uncertainty 0.412"
    )
    assert image_row_text("b.png", "New", None, "uncertainty") == "b.png\nNew · no score yet"


def test_auto_fit_until_the_user_zooms() -> None:
    fit = AutoFit()
    assert fit.refit_on_resize()
    fit.zoomed()
    assert not fit.refit_on_resize()
    fit.fitted()  # a new image or Ctrl+0
    assert fit.refit_on_resize()


def test_no_image_no_zoom() -> None:
    from app.model.view_hints import zoom_text

    assert zoom_text(0.0) == "zoom –" and zoom_text(1.6) == "zoom 160 %"
