"""The Fine-tune action's decisions without a window: run folder, checkpoint metadata, label-set change,
the project's plan, and the metrics stored with a new version."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.model.finetune_eval import Comparison
from app.model.finetune_run import RunOutcome
from app.model.finetune_setup import (
    CheckpointMetaCache,
    active_depth,
    backbone_worth_keeping,
    label_set_change,
    new_run_dir,
    project_plan,
    version_metrics,
)
from danet_core.labels import get_label_set
from danet_core.project import Project
from danet_core.training.finetune_plan import FinetunePlan


def test_new_run_dir_never_reuses_a_name(tmp_path: Path) -> None:
    first = new_run_dir(tmp_path, now=0.0)
    assert first.parent == tmp_path / "finetune" and first.name.startswith("run-")
    first.mkdir(parents=True)
    second = new_run_dir(tmp_path, now=0.0)
    assert second.name == first.name + "~1"
    second.mkdir()
    assert new_run_dir(tmp_path, now=0.0).name == first.name + "~2"
    assert not first.with_name(first.name + "~1~1").exists()


def test_label_set_change_names_what_differs() -> None:
    camvid = get_label_set("camvid")
    names = [c.name for c in camvid.train_classes()]
    assert label_set_change(names, camvid) == ""
    assert label_set_change(list(reversed(names)), camvid) == "classes reordered"
    text = label_set_change(names[:-1] + ["Truck"], camvid)
    assert text == f"added: {names[-1]}; removed: Truck"


def test_checkpoint_meta_is_read_once_per_file_version(tiny_checkpoint: Path, monkeypatch) -> None:
    import danet_core.checkpoints as ck

    reads: list[Path] = []
    real = ck.load_checkpoint
    monkeypatch.setattr(ck, "load_checkpoint", lambda p: reads.append(p) or real(p))
    cache = CheckpointMetaCache()
    assert cache.depth(tiny_checkpoint) == 18
    assert cache.label_set_change(tiny_checkpoint, get_label_set("camvid")) == ""
    assert "removed: Sky" in cache.label_set_change(tiny_checkpoint, get_label_set("voc"))
    assert len(reads) == 1
    missing = tiny_checkpoint.with_name("gone.pt")
    assert cache.depth(missing) is None
    assert "cannot be read" in cache.label_set_change(missing, get_label_set("camvid"))


def test_project_plan_and_active_depth(small_project: Path, tiny_checkpoint: Path) -> None:
    cache = CheckpointMetaCache()
    with Project.open(small_project) as project:
        fresh = project_plan(project, device="cpu", cache=cache)
        # a fresh R18; the crop follows the smallest reviewed side (48 px) but never goes below 64
        assert fresh.depth == 18 and not fresh.init_from_active and fresh.crop == 64 and fresh.batch_size == 3
        version = project.add_model_version(tiny_checkpoint, metrics={"plan": {"depth": 34}})
        project.set_active_model(version.id)
        assert active_depth(project.active_model_version(), cache) == 34  # recorded: no checkpoint read
        assert project_plan(project, device="cpu", cache=cache).init_from_active
        plain = project.add_model_version(tiny_checkpoint, metrics={})
        assert active_depth(plain, cache) == 18  # from the checkpoint's config
    assert active_depth(None, cache) is None


def test_the_fast_fine_tune_is_planned_for_an_imported_backbone_and_its_line_only(
    small_project: Path, tiny_checkpoint: Path, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no ImageNet weights cached
    cache = CheckpointMetaCache()
    with Project.open(small_project) as project:
        assert not backbone_worth_keeping(project, None)
        scratch = project.add_model_version(tiny_checkpoint, metrics={"plan": {"init_from_active": False}})
        imported = project.add_model_version(tiny_checkpoint, metrics={"imported_from": "x.pth"})
        child = project.add_model_version(
            tiny_checkpoint, metrics={"plan": {"init_from_active": True}}, parent=imported.id
        )
        restart = project.add_model_version(
            tiny_checkpoint, metrics={"plan": {"init_from_active": False}}, parent=imported.id
        )
        on_scratch = project.add_model_version(
            tiny_checkpoint, metrics={"plan": {"init_from_active": True}}, parent=scratch.id
        )
        keep = {
            v.id: backbone_worth_keeping(project, v) for v in (scratch, imported, child, restart, on_scratch)
        }
        assert keep == {scratch.id: False, imported.id: True, child.id: True, restart.id: False,
                        on_scratch.id: False}  # fmt: skip
        project.set_active_model(child.id)
        assert project_plan(project, device="cpu", cache=cache).freeze_backbone
        assert not project_plan(project, device="cuda", cache=cache).freeze_backbone  # CPU-only recipe
        project.set_active_model(scratch.id)
        assert not project_plan(project, device="cpu", cache=cache).freeze_backbone
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"")
    with Project.open(small_project) as project:
        assert backbone_worth_keeping(project, None)  # a new model on ImageNet's backbone


def test_project_plan_refuses_a_project_without_reviewed_images(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    images = tmp_path / "images"
    images.mkdir()
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(images / "a.png")
    with Project.create(tmp_path / "p", images, "camvid") as project:
        with pytest.raises(ValueError, match="no reviewed images"):
            project_plan(project, device="cpu", cache=CheckpointMetaCache())


def test_version_metrics_record_the_comparison_and_the_plan(tmp_path: Path) -> None:
    cmp = Comparison(new_miou=0.4, old_miou=0.3, heldout_images=2, note="")
    outcome = RunOutcome(tmp_path, "completed", "done", tmp_path / "last.pt", None, iterations=12)
    m = version_metrics(cmp, outcome, FinetunePlan(depth=34), previous=None, reviewed_images=9)
    assert m["heldout_miou"] == 0.4 and m["previous_miou"] == 0.3 and m["previous_version"] is None
    assert m["iterations"] == 12 and m["reviewed_images"] == 9 and m["plan"]["depth"] == 34
    assert m["run_dir"] == str(tmp_path)
