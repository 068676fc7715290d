"""Fine-tune defaults from the project size and device, and validation of advanced options."""

from __future__ import annotations

import pytest

from app.model.finetune_plan import FinetunePlan, default_plan


def test_no_reviewed_images_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no reviewed images"):
        default_plan(0)


def test_cpu_fresh_model_defaults() -> None:
    plan = default_plan(20, device="cpu")
    assert plan.depth == 18 and plan.crop == 256 and plan.device == "cpu"
    assert plan.precision == "fp32" and plan.workers == 0 and not plan.init_from_active
    assert plan.val_fraction == pytest.approx(0.2)
    # 30 passes over the 16 training images at batch 4
    assert plan.max_iters == 120
    assert plan.max_time_s == pytest.approx(400.0)
    assert plan.lr == pytest.approx(0.01)


def test_cuda_and_active_model_defaults() -> None:
    plan = default_plan(500, device="cuda", active_depth=101)
    assert plan.depth == 101 and plan.init_from_active and plan.lr == pytest.approx(0.002)
    assert (plan.crop, plan.batch_size, plan.precision) == (512, 8, "bf16")
    assert plan.max_iters == 1500
    assert plan.max_time_s == pytest.approx(1800.0)  # capped


def test_few_images_train_on_all_and_small_images_shrink_the_crop() -> None:
    plan = default_plan(2, device="cpu", min_image_side=180)
    assert plan.val_fraction == 0.0
    assert plan.batch_size == 2 and plan.crop == 176
    assert plan.max_iters == 30 and plan.max_time_s == pytest.approx(120.0)


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
    from app.model.finetune_plan import to_train_config

    plan = default_plan(10)
    cfg = to_train_config(
        plan, project_dir=tmp_path, run_dir=tmp_path / "run", init_checkpoint=tmp_path / "a.pt"
    )
    assert cfg.dataset == "project" and cfg.data_root == str(tmp_path)
    assert cfg.val_split == "val" and cfg.val_fraction == pytest.approx(0.2)
    assert cfg.crop_size == (256, 256) and cfg.model_options == {"depth": 18, "pretrained_backbone": "auto"}
    assert cfg.init_checkpoint is None  # a fresh-model plan does not start from a checkpoint
    cont = to_train_config(
        default_plan(3, active_depth=50), project_dir=tmp_path, run_dir=tmp_path / "r", init_checkpoint="m.pt"
    )
    assert cont.init_checkpoint == "m.pt" and cont.val_split is None and cont.val_interval == 0


def test_decide_which_model_becomes_active() -> None:
    from app.model.finetune_eval import Comparison, decide, describe

    assert decide(Comparison(0.4, 0.3, 5), has_previous=True) == "use"
    assert decide(Comparison(0.3, 0.3, 5), has_previous=True) == "ask"  # not better: the user decides
    assert decide(Comparison(0.2, None, 5, "not comparable"), has_previous=True) == "use"
    assert decide(Comparison(None, None, 0), has_previous=True) == "ask"
    assert decide(Comparison(None, None, 0), has_previous=False) == "use"
    assert describe(Comparison(0.4, 0.3, 5)) == (
        "Held-out mIoU on 5 reviewed image(s): new model 40.0%, previous model 30.0%"
    )
