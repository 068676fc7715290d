"""Fine-tune defaults from the project size and device, and validation of advanced options."""

from __future__ import annotations

import pytest

from danet_core.training.finetune_plan import FinetunePlan, default_plan, to_train_config


def test_no_reviewed_images_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no reviewed images"):
        default_plan(0)


def test_cpu_defaults_are_the_measured_recipe() -> None:
    """The recipe `danet bench assist` measured (docs/finetune.md): R18, half resolution, 128 px crops,
    batch 4, lr 0.01 over a long horizon, 3 minutes."""
    plan = default_plan(20, device="cpu", min_image_side=360)
    assert (plan.depth, plan.scale, plan.crop, plan.batch_size) == (18, 0.5, 128, 4)
    assert plan.precision == "fp32" and plan.workers == 0 and not plan.init_from_active
    assert plan.val_fraction == pytest.approx(0.2) and plan.lr == pytest.approx(0.01)
    assert plan.max_time_s == pytest.approx(180.0) and plan.max_iters >= 10_000  # the time decides
    assert plan.describe() == "DANet-R18 at 0.5x resolution, 128 px crops, batch 4, 3 min"
    assert default_plan(20, device="cpu", active_depth=34).init_from_active


def test_cuda_and_active_model_defaults() -> None:
    plan = default_plan(500, device="cuda", active_depth=101)
    assert plan.depth == 101 and plan.init_from_active and plan.lr == pytest.approx(0.002)
    assert (plan.crop, plan.batch_size, plan.precision) == (512, 8, "bf16")
    assert plan.max_iters == 1500
    assert plan.max_time_s == pytest.approx(1800.0)  # capped


def test_few_images_train_on_all_and_small_images_train_at_full_size() -> None:
    plan = default_plan(2, device="cpu", min_image_side=180)
    assert plan.val_fraction == 0.0 and plan.batch_size == 2
    assert plan.scale == 1.0 and plan.crop == 128  # half of 180 px would be smaller than the crop
    tiny = default_plan(2, device="cpu", min_image_side=100)
    assert tiny.scale == 1.0 and tiny.crop == 96


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("depth", 152, "depth=152"),
        ("crop", 250, "multiple of 8"),
        ("batch_size", 0, "batch_size=0"),
        ("lr", 0.0, "0 < lr"),
        ("val_fraction", 0.9, "val_fraction=0.9"),
        ("device", "tpu", "cpu, cuda or cuda:N"),
        ("precision", "fp16", "CUDA-only"),
        ("max_time_s", 1.0, "max_time_s=1.0"),
    ],
)
def test_bad_advanced_options_are_refused_with_the_field_name(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        default_plan(10).with_overrides(**{field: value})


def test_round_trip_and_unknown_option() -> None:
    plan = default_plan(10)
    assert FinetunePlan.from_dict(plan.to_dict()) == plan
    assert plan.with_overrides(max_time_s=None).max_time_s is None
    with pytest.raises(ValueError, match="unknown fine-tune option"):
        FinetunePlan.from_dict({**plan.to_dict(), "epochs": 3})
    assert "DANet-R18" in plan.describe()


def test_train_config_for_the_project(tmp_path) -> None:
    from danet_core.training.finetune_plan import to_train_config

    plan = default_plan(10, min_image_side=360)
    cfg = to_train_config(
        plan, project_dir=tmp_path, run_dir=tmp_path / "run", init_checkpoint=tmp_path / "a.pt"
    )
    assert cfg.dataset == "project" and cfg.data_root == str(tmp_path)
    assert cfg.val_split == "val" and cfg.val_fraction == pytest.approx(0.2)
    assert cfg.crop_size == (128, 128) and cfg.model_options == {"depth": 18, "pretrained_backbone": "auto"}
    assert cfg.base_scale == 0.5 and cfg.eval_mode == "multiscale" and cfg.eval_scales == (0.5,)
    assert cfg.init_checkpoint is None  # a fresh-model plan does not start from a checkpoint
    cont = to_train_config(
        default_plan(3, active_depth=50), project_dir=tmp_path, run_dir=tmp_path / "r", init_checkpoint="m.pt"
    )
    assert cont.init_checkpoint == "m.pt" and cont.val_split is None and cont.val_interval == 0


def test_the_expected_quality_is_said_before_a_run() -> None:
    from danet_core.training.finetune_plan import expected_quality

    assert "expect a rough first model" in expected_quality(default_plan(6), 6)
    assert "Continuing from the active model" in expected_quality(default_plan(6, active_depth=18), 6)


def test_the_fast_fine_tune_is_the_cpu_plan_when_the_backbone_is_worth_keeping(tmp_path) -> None:
    fast = default_plan(12, device="cpu", active_depth=18, keep_backbone=True)
    assert fast.freeze_backbone and fast.unfreeze_after == 0.5 and "frozen backbone" in fast.describe()
    plain = default_plan(12, device="cpu", active_depth=18)
    assert not plain.freeze_backbone and plain.unfreeze_after is None
    assert (fast.crop, fast.batch_size, fast.max_time_s) == (plain.crop, plain.batch_size, plain.max_time_s)
    assert not default_plan(12, device="cuda", active_depth=50, keep_backbone=True).freeze_backbone
    cfg = to_train_config(fast, project_dir=tmp_path, run_dir=tmp_path / "r", init_checkpoint="m.pt")
    assert cfg.freeze_backbone and cfg.unfreeze_at == [0.5] and cfg.log_interval == 10
    off = to_train_config(plain, project_dir=tmp_path, run_dir=tmp_path / "r", init_checkpoint="m.pt")
    assert not off.freeze_backbone and off.unfreeze_at == [] and off.log_interval == 1
    with pytest.raises(ValueError, match="unfreeze_after"):
        plain.with_overrides(unfreeze_after=0.5)  # needs freeze_backbone
    assert FinetunePlan.from_dict(fast.to_dict()) == fast
