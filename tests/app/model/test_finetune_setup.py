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
