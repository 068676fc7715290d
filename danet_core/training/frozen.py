"""Fast fine-tune: the backbone frozen, its features computed once per image, the head trained on them.

Why: on a CPU most of a fine-tune iteration is the backbone's forward and backward pass. When the
backbone is worth keeping (an imported model's, ImageNet's) it can stay as it is; then its output for a
training image never changes, so it is computed once and the head (PAM, CAM, classifiers; the FCN aux
head) trains on the cache at a fraction of the cost per iteration. See docs/finetune.md, "Fast fine-tune
(frozen backbone)", for the measured speed-up.

What is exact and what is not:

* Frozen means eval mode (BatchNorm uses its running statistics, which never change) and
  ``requires_grad`` False: the backbone is a fixed function, so caching it changes nothing.
* The cache holds, for every training image, at each precomputed scale and both horizontal flips, the
  backbone's output (c4; c3 too when the model has an aux head) for the *whole* image, resized so both
  sides are multiples of 8 px, and the mask resized the same way (nearest). A training sample is a
  random crop of ``crop // 8`` feature cells with the 8x8 label pixels under each cell; the head's
  logits are upsampled to the label crop exactly as :meth:`Segmenter.forward` does. That is the model's
  own computation on a crop of whole-image features, i.e. what the head sees when the whole image is
  predicted; it is not the features of a cropped image (those differ near the crop border, within the
  backbone's receptive field). When the crop is the whole image the two are identical (tested).
* Augmentation in feature space: random crop (aligned to the stride of 8), flip and the precomputed
  scales (``feature_cache_scales`` factors evenly over ``scale_range``; 1 = the base scale only). No
  photometric jitter: it would have to run before the backbone.
* Memory: float32 features, bounded by ``feature_cache_mb`` (estimated from the image sizes before
  anything is computed). Fewer scales are cached when the configured number does not fit; when even one
  does not, there is no cache and the frozen backbone runs on ordinary image batches (still without a
  backward pass through it).

Unfreezing (``unfreeze_at``): at those fractions of the budget, layer4 and then layer3 get gradients and
training continues on ordinary image batches; BatchNorm statistics stay fixed throughout (batches of a
few small crops would only make them noisier).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torchvision.transforms.v2 import InterpolationMode
from torchvision.transforms.v2 import functional as TF

from danet_core.images import image_size
from danet_core.jobs import ProgressFn, StopFn, check_stop
from danet_core.models import Segmenter

from .config import TrainConfig
from .datasets import SegDataset
from .transforms import IGNORE_INDEX

log = logging.getLogger(__name__)

STAGES = ("layer4", "layer3")  # unfrozen in this order
STRIDE = 8


class BackboneFreezer:
    """Which backbone stages train (by the unfreeze schedule); keeps the whole backbone in eval mode."""

    def __init__(self, model: Segmenter, unfreeze_at: list[float]) -> None:
        self.backbone = model.backbone
        self.unfreeze_at = list(unfreeze_at)
        self.unfrozen = 0
        self._apply()

    @property
    def all_frozen(self) -> bool:
        return self.unfrozen == 0

    def update(self, fraction: float) -> None:
        """Unfreeze the stages whose time has come (``fraction``: share of the budget used so far)."""
        due = sum(1 for a in self.unfreeze_at if fraction >= a)
        if due > self.unfrozen:
            self.unfrozen = due
            self._apply()
            log.info("unfroze backbone %s at %.0f%% of the budget", self.phase(), 100 * fraction)

    def set_modes(self) -> None:
        """Call after ``model.train()``: BatchNorm statistics of the backbone stay fixed."""
        self.backbone.eval()

    def phase(self) -> str:
        return "+".join(("head", *STAGES[: self.unfrozen]))

    def state(self) -> dict[str, int]:
        return {"unfrozen": self.unfrozen}

    def load_state(self, state: dict[str, int] | None) -> None:
        self.unfrozen = int((state or {}).get("unfrozen", 0))
        self._apply()

    def _apply(self) -> None:
        trainable = STAGES[: self.unfrozen]
        for name, p in self.backbone.named_parameters():
            p.requires_grad_(name.split(".")[0] in trainable)


@dataclass
class CachedImage:
    """One variant (scale, flip) of one training image: features and the mask at 8x their size."""

    c4: torch.Tensor  # C4 x h x w float32
    c3: torch.Tensor | None  # C3 x h x w (only with an aux head)
    target: torch.Tensor  # 8h x 8w uint8 train ids (255 = ignore)


@dataclass
class CachedBatch:
    c4: torch.Tensor  # B x C4 x ch x cw
    c3: torch.Tensor | None
    target: torch.Tensor  # B x 8ch x 8cw int64
    picks: list[tuple[int, int, int, int]]  # (image, variant, cell row, cell column) of each sample


class FeatureCache:
    """Per training image, its variants; :meth:`batch` draws aligned random crops from them."""

    def __init__(self, images: list[list[CachedImage]], scales: list[float]) -> None:
        self.images, self.scales = images, scales

    @property
    def nbytes(self) -> int:
        return sum(_entry_bytes(e) for variants in self.images for e in variants)

    def batch(self, batch_size: int, crop: tuple[int, int], generator: torch.Generator) -> CachedBatch:
        """``batch_size`` crops of ``crop`` pixels (rounded down to cells of 8), padded where too small."""
        ch, cw = max(1, crop[0] // STRIDE), max(1, crop[1] // STRIDE)
        c4s, c3s, targets, picks = [], [], [], []
        for _ in range(batch_size):
            i = _randint(len(self.images), generator)
            v = _randint(len(self.images[i]), generator)
            e = self.images[i][v]
            h, w = e.c4.shape[-2:]
            y, x = _randint(max(1, h - ch + 1), generator), _randint(max(1, w - cw + 1), generator)
            picks.append((i, v, y, x))
            c4s.append(_cut(e.c4, y, x, ch, cw, 0.0))
            if e.c3 is not None:
                c3s.append(_cut(e.c3, y, x, ch, cw, 0.0))
            t = _cut(e.target[None], y * STRIDE, x * STRIDE, ch * STRIDE, cw * STRIDE, IGNORE_INDEX)
            targets.append(t[0].long())
        c3 = torch.stack(c3s) if c3s else None
        return CachedBatch(torch.stack(c4s), c3, torch.stack(targets), picks)


def _randint(n: int, generator: torch.Generator) -> int:
    return int(torch.randint(n, (), generator=generator))


def _cut(t: torch.Tensor, y: int, x: int, h: int, w: int, fill: float) -> torch.Tensor:
    """``t[..., y:y+h, x:x+w]``, padded with ``fill`` at the bottom/right where ``t`` is smaller."""
    out = t[..., y : y + h, x : x + w]
    ph, pw = h - out.shape[-2], w - out.shape[-1]
    if ph or pw:
        out = F.pad(out, (0, pw, 0, ph), value=fill)
    return out


def _entry_bytes(e: CachedImage) -> int:
    n = e.c4.numel() * e.c4.element_size() + e.target.numel()
    return n + (0 if e.c3 is None else e.c3.numel() * e.c3.element_size())


def batch_generator(seed: int, iteration: int) -> torch.Generator:
    """The crops of an iteration depend on (seed, iteration) only, so ``--resume`` repeats them."""
    return torch.Generator().manual_seed(seed * 1_000_003 + iteration)


def head_outputs(model: Segmenter, batch: CachedBatch) -> dict[str, torch.Tensor]:
    """:meth:`Segmenter.forward` after the backbone, on cached features, upsampled to the label crop."""
    head_out = model.head(batch.c4)
    outputs = head_out if isinstance(head_out, dict) else {"out": head_out}
    if model.aux_head is not None and batch.c3 is not None:
        outputs["aux"] = model.aux_head(batch.c3)
    size = batch.target.shape[-2:]
    align = model.config.align_corners
    return {k: F.interpolate(v, size=size, mode="bilinear", align_corners=align) for k, v in outputs.items()}


def cache_scales(cfg: TrainConfig, n: int) -> list[float]:
    """``n`` random-scale factors evenly over ``scale_range`` (one: 1.0, clipped into the range)."""
    lo, hi = cfg.scale_range
    if n == 1:
        return [min(max(1.0, lo), hi)]
    return [lo + (hi - lo) * k / (n - 1) for k in range(n)]


def scaled_size(hw: tuple[int, int], factor: float) -> tuple[int, int]:
    """The size an image is resized to for the cache: ``factor`` times, rounded to multiples of 8."""
    return (
        max(STRIDE, round(hw[0] * factor / STRIDE) * STRIDE),
        max(STRIDE, round(hw[1] * factor / STRIDE) * STRIDE),
    )


def scaled_input(
    ds: SegDataset, index: int, size: tuple[int, int], cfg: TrainConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised 3 x H x W image and uint8 H x W mask of item ``index`` resized to ``size``."""
    image, target = ds.load_raw(index)
    img = TF.resize(torch.from_numpy(image).permute(2, 0, 1), list(size), antialias=True)
    msk = TF.resize(torch.from_numpy(target)[None], list(size), interpolation=InterpolationMode.NEAREST)[0]
    x = TF.normalize(img.float() / 255.0, mean=list(cfg.mean), std=list(cfg.std))
    return x, msk


def _plan_scales(model: Segmenter, ds: SegDataset, cfg: TrainConfig) -> list[float] | None:
    """The most scales (up to ``feature_cache_scales``) whose cache fits ``feature_cache_mb``."""
    c3, c4 = model.backbone.channels
    per_cell = 4 * (c4 + (c3 if model.aux_head is not None else 0)) + STRIDE * STRIDE
    sizes = [image_size(item.image)[::-1] for item in ds.items]  # (h, w)
    bound = cfg.feature_cache_mb * 2**20
    for n in range(cfg.feature_cache_scales, 0, -1):
        scales = cache_scales(cfg, n)
        cells = sum(
            math.prod(scaled_size(hw, cfg.base_scale * s)) // STRIDE**2 for hw in sizes for s in scales
        )
        need = 2 * cells * per_cell  # both flips
        if need <= bound:
            return scales
        log.info("feature cache with %d scale(s) needs %.0f MB > feature_cache_mb", n, need / 2**20)
    return None


def build_cache(
    model: Segmenter,
    ds: SegDataset,
    cfg: TrainConfig,
    device: torch.device,
    *,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> FeatureCache | None:
    """Backbone features of every training image (see the module docstring); None when they do not fit."""
    scales = _plan_scales(model, ds, cfg) if cfg.feature_cache_mb > 0 else None
    if scales is None:
        log.warning("no feature cache (feature_cache_mb=%d): the frozen backbone runs on image batches",
                    cfg.feature_cache_mb)  # fmt: skip
        return None
    t0 = time.perf_counter()
    aux = model.aux_head is not None
    model.backbone.eval()
    images: list[list[CachedImage]] = []
    for i in range(len(ds)):
        check_stop(should_stop)
        hw = image_size(ds.items[i].image)[::-1]
        variants = []
        for s in scales:
            x, m = scaled_input(ds, i, scaled_size(hw, cfg.base_scale * s), cfg)
            xs = torch.stack([x, x.flip(-1)]).to(device)
            with torch.no_grad():
                c3, c4 = model.backbone(xs)
            for k, mk in enumerate((m, m.flip(-1))):
                variants.append(CachedImage(c4[k].float(), c3[k].float() if aux else None, mk.to(device)))
        images.append(variants)
        if progress is not None:
            progress(i + 1, len(ds), "caching backbone features")
    cache = FeatureCache(images, scales)
    log.info("feature cache: %d images x %d variants (scales %s, flips), %.0f MB, built in %.1f s",
             len(images), 2 * len(scales), [round(s, 3) for s in scales], cache.nbytes / 2**20,
             time.perf_counter() - t0)  # fmt: skip
    return cache
