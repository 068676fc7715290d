"""The official and mmseg protocols against transcriptions of the reference code's arithmetic.

The oracles below are written line by line from encoding/models/sseg/base.py (MultiEvalModule.forward,
module_inference, pad_image, resize_image) and from mmcv/mmseg 1.x (_scale_size, rescale_size,
imrescale with cv2 INTER_LINEAR, EncoderDecoder.slide_inference, postprocess_result, SegTTAModel).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from danet_core.inference import Predictor
from danet_core.options import PredictOptions
from danet_core.protocols import mmseg_sizes

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


@pytest.fixture(scope="module")
def model(make_danet):
    return make_danet(4, seed=1, pam=0.3, cam=0.2, cls_scale=20)  # logits of a few units, as trained


@pytest.fixture(scope="module")
def image():
    return np.random.default_rng(3).integers(0, 256, (50, 70, 3), dtype=np.uint8)


def _evaluate(model, x):
    with torch.no_grad():
        return model(x)["out"]


def official_oracle(model, image, *, base_size, crop_size, scales, flip=True):
    img = torch.from_numpy(image).permute(2, 0, 1).float().div(255)
    img = ((img - torch.tensor(MEAN).float().view(3, 1, 1)) / torch.tensor(STD).float().view(3, 1, 1))[None]
    up = {"mode": "bilinear", "align_corners": True}

    def pad_image(t, crop):
        b, c, h, w = t.size()
        padh, padw = (crop - h if h < crop else 0), (crop - w if w < crop else 0)
        pad_values = -MEAN / STD
        out = t.new().resize_(b, c, h + padh, w + padw)
        for i in range(c):
            out[:, i, :, :] = F.pad(t[:, i, :, :], (0, padw, 0, padh), value=pad_values[i])
        return out

    def module_inference(t):
        output = _evaluate(model, t)
        if flip:
            output += _evaluate(model, t.flip(3)).flip(3)
        return output.exp()

    _, _, h, w = img.size()
    stride = int(crop_size * 2.0 / 3.0)
    scores = img.new().resize_(1, 4, h, w).zero_()
    for scale in scales:
        long_size = int(math.ceil(base_size * scale))
        if h > w:
            height, width, short_size = long_size, int(1.0 * w * long_size / h + 0.5), None
            short_size = width
        else:
            width, height = long_size, int(1.0 * h * long_size / w + 0.5)
            short_size = height
        cur_img = F.interpolate(img, (height, width), **up)
        if long_size <= crop_size:
            outputs = module_inference(pad_image(cur_img, crop_size))[:, :, 0:height, 0:width]
        else:
            pad_img = pad_image(cur_img, crop_size) if short_size < crop_size else cur_img
            _, _, ph, pw = pad_img.size()
            h_grids = int(math.ceil(1.0 * (ph - crop_size) / stride)) + 1
            w_grids = int(math.ceil(1.0 * (pw - crop_size) / stride)) + 1
            outputs = img.new().resize_(1, 4, ph, pw).zero_()
            count_norm = img.new().resize_(1, 1, ph, pw).zero_()
            for idh in range(h_grids):
                for idw in range(w_grids):
                    h0, w0 = idh * stride, idw * stride
                    h1, w1 = min(h0 + crop_size, ph), min(w0 + crop_size, pw)
                    output = module_inference(pad_image(pad_img[:, :, h0:h1, w0:w1], crop_size))
                    outputs[:, :, h0:h1, w0:w1] += output[:, :, 0 : h1 - h0, 0 : w1 - w0]
                    count_norm[:, :, h0:h1, w0:w1] += 1
            assert (count_norm == 0).sum() == 0
            outputs = (outputs / count_norm)[:, :, :height, :width]
        scores += F.interpolate(outputs, (h, w), **up)
    return scores[0]


def _scale_size(size, scale):
    w, h = size
    return int(w * float(scale) + 0.5), int(h * float(scale) + 0.5)


def _rescale_size(old_size, scale):
    w, h = old_size
    scale_factor = min(max(scale) / max(h, w), min(scale) / min(h, w))
    return _scale_size((w, h), scale_factor)


def mmseg_oracle(model, image, *, ratios, crop, stride, align_corners, flip):
    h_img, w_img = image.shape[:2]
    views = []
    for r in ratios:
        new_w, new_h = _rescale_size((w_img, h_img), _scale_size((w_img, h_img), r))
        resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        for flipped in (False, True) if flip else (False,):
            arr = resized[:, ::-1] if flipped else resized
            x = (
                torch.from_numpy(arr.copy()).float().permute(2, 0, 1)
                - torch.tensor(MEAN * 255).float()[:, None, None]
            )
            x = (x / torch.tensor(STD * 255).float()[:, None, None])[None]
            hc, wc = crop
            hs, ws = stride
            _, _, h, w = x.size()
            h_grids = max(h - hc + hs - 1, 0) // hs + 1
            w_grids = max(w - wc + ws - 1, 0) // ws + 1
            preds, count = x.new_zeros((1, 4, h, w)), x.new_zeros((1, 1, h, w))
            for h_idx in range(h_grids):
                for w_idx in range(w_grids):
                    y1, x1 = h_idx * hs, w_idx * ws
                    y2, x2 = min(y1 + hc, h), min(x1 + wc, w)
                    y1, x1 = max(y2 - hc, 0), max(x2 - wc, 0)
                    crop_seg_logit = _evaluate(model, x[:, :, y1:y2, x1:x2])
                    preds += F.pad(crop_seg_logit, (int(x1), int(w - x2), int(y1), int(h - y2)))
                    count[:, :, y1:y2, x1:x2] += 1
            seg_logits = preds / count
            if flipped:
                seg_logits = seg_logits.flip(dims=(3,))
            seg_logits = F.interpolate(
                seg_logits, (h_img, w_img), mode="bilinear", align_corners=align_corners
            )
            views.append(seg_logits[0].softmax(dim=0))
    return sum(views) / len(views)


def test_official_protocol_reproduces_multi_eval_module(model, image):
    ref = official_oracle(model, image, base_size=80, crop_size=32, scales=(0.5, 1.0, 1.25))
    pred = Predictor(model, device="cpu", protocol="official", mode="multiscale", crop=32,
                     scales=(0.5, 1.0, 1.25), base_size=80, flip=True)  # fmt: skip
    steps = []
    probs = pred.probabilities(image, progress=lambda d, t, _m: steps.append((d, t)))
    assert torch.equal(probs.argmax(0), ref.argmax(0))
    assert torch.allclose(probs, ref / ref.sum(0, keepdim=True), atol=1e-5)
    assert steps[-1][0] == steps[-1][1] == len(steps)  # progress counted every forward up front
    ours = Predictor(model, device="cpu", mode="multiscale", crop=32, scales=(0.5, 1.0, 1.25), flip=True)
    assert not torch.allclose(ours.probabilities(image), probs, atol=1e-3)  # the protocols differ


@pytest.mark.parametrize("align_corners", [False, True])
def test_mmseg_protocol_reproduces_slide_and_tta(model, image, align_corners):
    model.config.align_corners = align_corners
    try:
        ref = mmseg_oracle(model, image, ratios=(0.5, 0.75, 1.25), crop=(24, 40), stride=(16, 26),
                           align_corners=align_corners, flip=True)  # fmt: skip
        pred = Predictor(model, device="cpu", protocol="mmseg", mode="multiscale", crop=(24, 40),
                         stride=(16, 26), scales=(0.5, 0.75, 1.25), flip=True)  # fmt: skip
        probs = pred.probabilities(image)
    finally:
        model.config.align_corners = True
    assert torch.equal(probs.argmax(0), ref.argmax(0))
    assert torch.allclose(probs, ref, atol=1e-5)


def test_mmseg_sizes_round_like_mmcv_and_the_769_stride():
    assert mmseg_sizes(97, 161, (0.5,), None) == [(49, 81)]  # Python round() would give 48 x 80
    assert mmseg_sizes(1024, 2048, None, (2048, 1024)) == [(1024, 2048)]
    assert mmseg_sizes(512, 683, None, (2048, 512)) == [(512, 683)]
    assert PredictOptions(protocol="mmseg", mode="slide", crop=769).stride == (513, 513)
    assert PredictOptions(protocol="mmseg", mode="slide", crop=(512, 1024)).stride == (341, 682)
    assert PredictOptions(mode="slide", crop=769).stride == (512, 512)
    # a stride derived from the default crop follows a new crop (it used to stay 341 x 682 and leave gaps)
    assert PredictOptions().replace(crop=32).stride == (21, 21)
    assert PredictOptions(stride=(5, 5)).replace(crop=32).stride == (5, 5)
    with pytest.raises(ValueError, match="evaluation protocol 'x'"):
        PredictOptions(protocol="x")
    with pytest.raises(ValueError, match="official protocol slides square crops"):
        PredictOptions(protocol="official", mode="slide", crop=(512, 1024))
