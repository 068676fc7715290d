"""Predictor: modes, outputs at the original size, image conversions, callbacks, attention maps."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from danet_core.inference import Prediction, Predictor, as_rgb_array, slide_windows
from danet_core.jobs import Cancelled
from danet_core.models import cam_attention_matrix, get_model


@pytest.fixture(scope="module")
def model(make_danet):
    return make_danet(4, pam=0.5, cam=0.3, cls_scale=20)  # sharper softmax so labels vary over the image


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, (45, 61, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def whole(model, image) -> Prediction:
    return Predictor(model, device="cpu").predict(image, return_probabilities=True)


def test_prediction_fields_at_original_resolution(whole):
    p = whole.probabilities
    assert p.shape == (4, 45, 61) and np.allclose(p.sum(0), 1, atol=1e-5)
    assert whole.label.dtype == np.uint8 and whole.label.shape == (45, 61)
    assert np.array_equal(whole.label, p.argmax(0))
    assert whole.confidence.dtype == np.float32 and np.allclose(whole.confidence, p.max(0))
    top2 = np.sort(p, axis=0)[-2:]
    assert np.allclose(whole.margin, top2[1] - top2[0], atol=1e-6)
    expected_entropy = -(p * np.log(np.clip(p, 1e-12, None))).sum(0) / np.log(4)
    assert np.allclose(whole.entropy, expected_entropy, atol=1e-5)
    assert whole.entropy.min() >= 0 and whole.entropy.max() <= 1
    assert len(np.unique(whole.label)) > 1


def test_slide_with_a_window_covering_the_image_equals_whole(model, image, whole):
    slide = Predictor(model, device="cpu", mode="slide", crop=(64, 64)).predict(
        image, return_probabilities=True
    )
    assert np.array_equal(slide.probabilities, whole.probabilities)


def test_slide_windows_cover_and_overlap_average(model, image, whole):
    wins = slide_windows(45, 61, (32, 32), (20, 20))
    cover = np.zeros((45, 61), int)
    for y1, y2, x1, x2 in wins:
        assert y2 - y1 == 32 and x2 - x1 == 32
        cover[y1:y2, x1:x2] += 1
    assert cover.min() >= 1 and len(wins) == 2 * 3
    calls = []
    pred = Predictor(model, device="cpu", mode="slide", crop=32, stride=20).predict(
        image, progress=lambda d, t, m: calls.append((d, t))
    )
    assert calls[-1] == (6, 6) and pred.label.shape == (45, 61)


def test_multiscale_one_scale_equals_whole_and_flip_averages(model, image, whole):
    one = Predictor(model, device="cpu", mode="multiscale", scales=(1.0,), crop=None).predict(
        image, return_probabilities=True
    )
    assert np.allclose(one.probabilities, whole.probabilities, atol=1e-6)
    flipped = Predictor(model, device="cpu").predict(image[:, ::-1].copy(), return_probabilities=True)
    both = Predictor(model, device="cpu", mode="multiscale", scales=(1.0,), flip=True, crop=None)
    expected = (whole.probabilities + flipped.probabilities[:, :, ::-1]) / 2
    assert np.allclose(both.predict(image, return_probabilities=True).probabilities, expected, atol=1e-5)
    multi = Predictor(model, device="cpu", mode="multiscale", scales=(0.5, 1.5), crop=None).predict(image)
    assert multi.label.shape == (45, 61)


def test_cancellation_and_progress(model, image):
    seen = []
    pred = Predictor(model, device="cpu", mode="multiscale", scales=(0.5, 1.0), flip=True, crop=None)
    with pytest.raises(Cancelled):
        pred.predict(image, progress=lambda d, t, m: seen.append((d, t)), should_stop=lambda: len(seen) >= 2)
    assert seen == [(1, 4), (2, 4)]
    with pytest.raises(Cancelled):
        pred.predict(image, should_stop=lambda: True)


def test_low_precision_autocast_runs_and_agrees(model, image, whole):
    for precision in ("bf16", "fp16"):
        low = Predictor(model, device="cpu", precision=precision).predict(image)
        assert low.confidence.dtype == np.float32
        assert np.abs(low.confidence - whole.confidence).max() < 0.1
        assert (low.label == whole.label).mean() > 0.9


def test_image_files_and_arrays_are_converted(model, tmp_path, whole, image):
    pred = Predictor(model, device="cpu")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.fromarray(image).save(tmp_path / "rot.jpg", exif=exif)
    assert pred.predict(tmp_path / "rot.jpg").label.shape == (61, 45)
    Image.fromarray(image).save(tmp_path / "same.png")
    assert np.array_equal(pred.predict(tmp_path / "same.png").label, whole.label)
    gray16 = (np.arange(45 * 61, dtype=np.uint16).reshape(45, 61) * 20).astype(np.uint16)
    Image.fromarray(gray16).save(tmp_path / "g16.png")
    assert pred.predict(tmp_path / "g16.png").label.shape == (45, 61)
    rgba = np.dstack([image, np.full((45, 61), 255, np.uint8)])
    assert np.array_equal(pred.predict(rgba).label, whole.label)
    assert as_rgb_array(image[..., 0]).shape == (45, 61, 3)
    with pytest.raises(ValueError, match="dtype float64"):
        pred.predict(image.astype(np.float64))
    with pytest.raises(ValueError, match="no such image"):
        pred.predict(tmp_path / "missing.png")


def test_bad_options_are_named(model):
    with pytest.raises(ValueError, match="precision"):
        Predictor(model, precision="int8")
    with pytest.raises(ValueError, match="mode"):
        Predictor(model, mode="tiles")
    with pytest.raises(ValueError, match="crop"):
        Predictor(model, mode="slide", crop=None)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            Predictor(model, device="cuda")


def _hooked_inputs(model, image):
    feats = {}
    hooks = [
        model.head.pam.register_forward_hook(lambda m, i, o: feats.__setitem__("pam", i[0])),
        model.head.cam.register_forward_hook(lambda m, i, o: feats.__setitem__("cam", i[0])),
    ]
    pred = Predictor(model, device="cpu")
    with torch.no_grad():
        model(pred.to_tensor(image))
    for h in hooks:
        h.remove()
    return pred, feats


def test_pam_row_is_the_query_row_of_the_full_attention(model, image):
    pred, feats = _hooked_inputs(model, image)
    x = feats["pam"]
    pam = model.head.pam
    with torch.no_grad():
        q = pam.query(x).flatten(2).transpose(1, 2)
        full = torch.softmax(q @ pam.key(x).flatten(2), dim=-1)[0]  # N x N, the oracle
    fh, fw = x.shape[-2:]
    assert (fh, fw) == (6, 8)
    row = pred.pam_row(image, (44, 30))  # nearest cell centre (8 i): (44 / 8, 30 / 8) -> (5 clamped, 4)
    assert row.dtype == np.float32 and row.shape == (6, 8)
    assert np.allclose(row.reshape(-1), full[5 * fw + 4].numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="outside"):
        pred.pam_row(image, (45, 0))


def test_cam_matrix_matches_the_module_input(model, image):
    pred, feats = _hooked_inputs(model, image)
    cam = pred.cam_matrix(image)
    assert cam.shape == (128, 128) and cam.dtype == np.float32
    assert np.allclose(cam.sum(1), 1, atol=1e-5)
    assert np.allclose(cam, cam_attention_matrix(feats["cam"])[0].numpy(), atol=1e-6)


def test_attention_maps_need_danet(image):
    fcn = get_model("fcn", depth=18, num_classes=2)
    with pytest.raises(ValueError, match="need a DANet"):
        Predictor(fcn, device="cpu").cam_matrix(image)


def test_feature_cell_is_the_nearest_cell_centre():
    from danet_core.inference import feature_cell

    assert [feature_cell(y, 128) for y in (0, 3, 4, 11, 12, 1019, 1020, 1023)] == [
        0,
        0,
        1,
        1,
        2,
        127,
        127,
        127,
    ]
    # floor(y * fh / h), the old mapping, is one cell off for the rows 8i+4..8i+7 of a 1024-pixel image
    # (ties at 8i+4 go up here; Python's round() sends half of them down, hence the 43%)
    off = sum(feature_cell(y, 128) != y * 128 // 1024 for y in range(1024))
    assert off == 127 * 4  # 49.6% of the rows
