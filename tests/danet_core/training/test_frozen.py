"""The frozen-backbone fast fine-tune: the cached head's loss is the model's own loss, the backbone and its
BN statistics never change while frozen, unfreezing happens when configured, the cache respects its bound."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from train_helpers import tiny_config

from danet_core.checkpoints import load_checkpoint
from danet_core.models import get_model
from danet_core.training import TrainConfig, train
from danet_core.training.config import ConfigError
from danet_core.training.frozen import (
    STRIDE,
    BackboneFreezer,
    build_cache,
    head_outputs,
    scaled_input,
    scaled_size,
)
from danet_core.training.loaders import build_data
from danet_core.training.losses import SegLoss
from danet_core.training.rundir import read_metrics


def _model(aux: bool) -> torch.nn.Module:
    torch.manual_seed(0)
    return get_model("danet", num_classes=3, depth=18, aux=aux, pretrained_backbone=False)


def _cache_and_model(cfg: TrainConfig, aux: bool):
    data = build_data(cfg)
    model = _model(aux)
    BackboneFreezer(model, [])
    cache = build_cache(model, data.train, cfg, torch.device("cpu"))
    assert cache is not None
    return data.train, model, cache


def _losses(model, batch, reference_outputs) -> tuple[float, float]:
    """(cached-head loss, reference loss) on the same targets, dropout drawn identically."""
    crit = SegLoss()
    model.train()
    model.backbone.eval()
    torch.manual_seed(1)
    cached, _ = crit(head_outputs(model, batch), batch.target)
    torch.manual_seed(1)
    ref, _ = crit(reference_outputs(), batch.target)
    return float(cached.detach()), float(ref.detach())


@pytest.mark.parametrize("aux", [False, True])
def test_a_whole_image_crop_gives_the_full_models_loss_with_the_frozen_backbone(make_cfg, aux) -> None:
    # tiny images are 48x64 (multiples of 8): a 48x64 crop is the whole image, so the cached path must
    # equal Segmenter.forward on the image (or its flip) with the backbone in eval mode
    cfg = make_cfg(crop_size=(48, 64), freeze_backbone=True, scale_range=(1.0, 1.0))
    ds, model, cache = _cache_and_model(cfg, aux)
    batch = cache.batch(4, (48, 64), torch.Generator().manual_seed(3))
    assert {p[1] for p in batch.picks} == {0, 1}  # both flips are drawn in this batch
    inputs = []
    for i, v, y, x in batch.picks:
        assert (y, x) == (0, 0)
        image, mask = scaled_input(ds, i, (48, 64), cfg)
        inputs.append(image.flip(-1) if v == 1 else image)
        assert torch.equal(batch.target[len(inputs) - 1], (mask.flip(-1) if v == 1 else mask).long())
    cached, full = _losses(model, batch, lambda: model(torch.stack(inputs)))
    assert cached == pytest.approx(full, rel=1e-5)


def test_a_random_crop_is_the_head_on_the_aligned_crop_of_whole_image_features(make_cfg) -> None:
    cfg = make_cfg(crop_size=(32, 32), freeze_backbone=True, scale_range=(1.0, 1.0))
    ds, model, cache = _cache_and_model(cfg, aux=True)
    batch = cache.batch(3, (32, 32), torch.Generator().manual_seed(5))
    c3s, c4s = [], []
    for k, (i, v, y, x) in enumerate(batch.picks):
        image, mask = scaled_input(ds, i, (48, 64), cfg)
        image, mask = (image.flip(-1), mask.flip(-1)) if v == 1 else (image, mask)
        with torch.no_grad():
            c3, c4 = model.backbone.eval()(image[None])
        c3s.append(c3[0, :, y : y + 4, x : x + 4])
        c4s.append(c4[0, :, y : y + 4, x : x + 4])
        label = mask[y * STRIDE : (y + 4) * STRIDE, x * STRIDE : (x + 4) * STRIDE].long()
        assert torch.equal(batch.target[k], label)  # labels aligned with the feature cells
    assert len({p[2:] for p in batch.picks}) > 1  # different offsets were drawn

    def reference():
        ref = type(batch)(torch.stack(c4s), torch.stack(c3s), batch.target, batch.picks)
        return head_outputs(model, ref)

    cached, manual = _losses(model, batch, reference)
    assert cached == pytest.approx(manual, rel=1e-5)


def _backbone_state(path: Path) -> dict[str, torch.Tensor]:
    state = load_checkpoint(path)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("backbone.")}


def _start(make_cfg) -> Path:
    return train(make_cfg("start", max_iters=1)).last


@pytest.mark.parametrize("cache_mb", [1024, 0])
def test_the_backbone_and_its_bn_statistics_do_not_change_while_frozen(make_cfg, cache_mb) -> None:
    start = _start(make_cfg)
    result = train(
        make_cfg("frozen", init_checkpoint=str(start), freeze_backbone=True, feature_cache_mb=cache_mb,
                 max_iters=5, scale_range=(0.75, 1.25), feature_cache_scales=2)
    )  # fmt: skip
    before, after = _backbone_state(start), _backbone_state(result.last)
    assert any(".running_mean" in k for k in after) and before.keys() == after.keys()
    for key in before:
        assert torch.equal(before[key], after[key]), key
    head_before = load_checkpoint(start)["state_dict"]["head.cls.1.weight"]
    assert not torch.equal(head_before, load_checkpoint(result.last)["state_dict"]["head.cls.1.weight"])
    phases = [r["phase"] for r in read_metrics(result.run_dir / "metrics.jsonl") if r["type"] == "train"]
    assert phases == ["head (cached features)" if cache_mb else "head"] * 5


def test_layer4_unfreezes_at_the_configured_share_of_the_budget(make_cfg) -> None:
    start = _start(make_cfg)
    result = train(
        make_cfg("unfreeze", init_checkpoint=str(start), freeze_backbone=True, unfreeze_at=[0.5], max_iters=6)
    )
    phases = [r["phase"] for r in read_metrics(result.run_dir / "metrics.jsonl") if r["type"] == "train"]
    assert phases == ["head (cached features)"] * 3 + ["head+layer4"] * 3
    before, after = _backbone_state(start), _backbone_state(result.last)
    changed = {k.split(".")[1] for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"layer4"}
    # BN statistics stay fixed also in the unfrozen stage
    assert all(torch.equal(before[k], after[k]) for k in before if "running_" in k)
    assert load_checkpoint(result.last)["train_state"]["frozen"] == {"unfrozen": 1}


def test_the_cache_shrinks_to_fewer_scales_or_goes_when_over_its_bound(make_cfg) -> None:
    cfg = make_cfg(freeze_backbone=True, feature_cache_scales=3, scale_range=(0.5, 2.0), feature_cache_mb=3)
    data = build_data(cfg)
    model = _model(aux=False)
    cache = build_cache(model, data.train, cfg, torch.device("cpu"))
    assert cache is not None and len(cache.scales) < 3 and cache.nbytes <= 3 * 2**20
    cfg.base_scale = 4.0  # 19 MB for one scale
    assert build_cache(model, data.train, cfg, torch.device("cpu")) is None


def test_scaled_sizes_are_multiples_of_the_stride() -> None:
    assert scaled_size((360, 480), 0.5 * 0.75) == (136, 176)
    assert scaled_size((5, 5), 0.5) == (8, 8)


def test_unfreeze_options_are_checked(tiny_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unfreeze_at"):
        tiny_config(tiny_root, tmp_path, unfreeze_at=[0.5])  # without freeze_backbone
    with pytest.raises(ConfigError, match="unfreeze_at"):
        tiny_config(tiny_root, tmp_path, freeze_backbone=True, unfreeze_at=[0.7, 0.3])
    with pytest.raises(ConfigError, match="feature_cache_scales"):
        tiny_config(tiny_root, tmp_path, freeze_backbone=True, feature_cache_scales=0)


def test_a_stop_file_ends_the_cache_build_with_a_resumable_checkpoint(make_cfg) -> None:
    from danet_core.jobs import Cancelled

    cfg = make_cfg("stop", freeze_backbone=True, max_iters=5)
    stop = Path(cfg.run_dir) / "STOP"

    def progress(done: int, total: int, message: str) -> None:
        if message == "caching backbone features":
            stop.write_text("")

    with pytest.raises(Cancelled):
        train(cfg, progress=progress)
    ends = [r for r in read_metrics(Path(cfg.run_dir) / "metrics.jsonl") if r["type"] == "end"]
    assert ends[-1]["status"] == "cancelled" and (Path(cfg.run_dir) / "checkpoints/last.pt").is_file()
