"""Joint augmentation keeps image and mask aligned and pads with ignore."""

from __future__ import annotations

import numpy as np
import torch

from danet_core.training.transforms import IGNORE_INDEX, eval_transform, to_tv, train_transform

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
PALETTE = np.array([[250, 0, 0], [0, 250, 0], [0, 0, 250], [250, 250, 0]], dtype=np.uint8)


def _blocks(h: int = 60, w: int = 80) -> tuple[np.ndarray, np.ndarray]:
    """Large uniform blocks: the image colour says the class, so alignment can be checked per pixel."""
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[: h // 2, w // 2 :] = 1
    mask[h // 2 :, : w // 3] = 2
    mask[h // 2 :, w // 3 :] = 3
    return PALETTE[mask], mask


def _denormalise(img: torch.Tensor) -> np.ndarray:
    m = torch.tensor(MEAN).view(3, 1, 1)
    s = torch.tensor(STD).view(3, 1, 1)
    return ((img * s + m) * 255).permute(1, 2, 0).numpy()


def _interior(mask: np.ndarray) -> np.ndarray:
    """Pixels whose 5x5 neighbourhood has one label (bilinear image resize blurs only the edges); the
    crop's own border is excluded too (the blur there comes from pixels outside the crop)."""
    pad = np.pad(mask.astype(np.int32), 2, constant_values=-1)
    same = np.ones_like(mask, dtype=bool)
    for dy in range(5):
        for dx in range(5):
            same &= pad[dy : dy + mask.shape[0], dx : dx + mask.shape[1]] == mask
    return same


def test_train_preset_keeps_image_and_mask_aligned() -> None:
    image, mask = _blocks()
    t = train_transform(crop_size=(48, 48), scale_range=(0.5, 2.0), color_jitter=0.0, mean=MEAN, std=STD)
    checked = 0
    for seed in range(12):
        torch.manual_seed(seed)
        img, msk = t(*to_tv(image, mask))
        assert img.shape == (3, 48, 48) and img.dtype == torch.float32
        assert msk.shape == (48, 48) and msk.dtype == torch.int64
        m = msk.numpy()
        rgb = _denormalise(img)
        ok = (m != IGNORE_INDEX) & _interior(m)
        expected = PALETTE[np.where(m == IGNORE_INDEX, 0, m)].astype(np.float32)
        assert np.abs(rgb[ok] - expected[ok]).max() < 2.0
        assert set(np.unique(m)) <= {0, 1, 2, 3, IGNORE_INDEX}  # nearest: no interpolated labels
        checked += int(ok.sum())
    assert checked > 5000


def test_crop_larger_than_the_image_pads_mask_with_ignore_and_image_with_black() -> None:
    image, mask = _blocks(20, 30)
    t = train_transform(crop_size=(64, 64), scale_range=(1.0, 1.0), hflip=False, color_jitter=0.0)
    img, msk = t(*to_tv(image, mask))
    m = msk.numpy()
    assert (m != IGNORE_INDEX).sum() == 20 * 30
    pad = m == IGNORE_INDEX
    black = (torch.zeros(3) - torch.tensor(MEAN)) / torch.tensor(STD)
    assert torch.allclose(
        img.permute(1, 2, 0)[torch.from_numpy(pad)], black.expand(int(pad.sum()), 3), atol=1e-5
    )


def test_flip_moves_image_and_mask_together() -> None:
    image, mask = _blocks()
    t = train_transform(crop_size=(60, 80), scale_range=(1.0, 1.0), color_jitter=0.0)
    flipped = 0
    for seed in range(8):
        torch.manual_seed(seed)
        img, msk = t(*to_tv(image, mask))
        m = msk.numpy()
        if (m == mask[:, ::-1]).all():
            flipped += 1
        else:
            assert (m == mask).all()
        assert np.abs(_denormalise(img) - PALETTE[m]).max() < 2.0
    assert 0 < flipped < 8


def test_eval_preset_scales_deterministically() -> None:
    image, mask = _blocks()
    img, msk = eval_transform(base_scale=0.5)(*to_tv(image, mask))
    assert img.shape == (3, 30, 40) and msk.shape == (30, 40)
    assert (msk.numpy() == mask[::2, ::2]).mean() > 0.95
