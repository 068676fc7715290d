"""The fine-tune dock on its own: curves, advanced settings validation, versions table and rollback."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

pytest.importorskip("PySide6")

from app.widgets.finetune_panel import FinetunePanel  # noqa: E402
from danet_core.training.finetune_plan import default_plan  # noqa: E402

pytestmark = pytest.mark.gui


@dataclass
class Version:
    id: int
    created: str
    parent: int | None
    metrics: dict = field(default_factory=dict)


def test_curves_take_loss_terms_and_val_miou(qtbot) -> None:
    panel = FinetunePanel()
    qtbot.addWidget(panel)
    panel.add_record({"type": "train", "iter": 10, "loss": 2.5, "loss_out": 1.0, "loss_pam": 0.8, "lr": 0.01})
    panel.add_record({"type": "train", "iter": 20, "loss": None, "loss_out": 0.9})  # NaN logged as null
    panel.add_record({"type": "val", "iter": 20, "miou": 0.31})
    panel.add_record({"type": "end", "status": "completed"})
    assert panel.curves.point_counts() == {"loss": 1, "loss_out": 2, "loss_pam": 1, "val mIoU": 1}
    panel.start_run("again")
    assert panel.curves.point_counts() == {}
    assert not panel.start_button.isEnabled() and panel.cancel_button.isEnabled()


def test_plan_summary_and_advanced_settings(qtbot) -> None:
    panel = FinetunePanel()
    qtbot.addWidget(panel)
    panel.set_plan(default_plan(12), 12, "12/40 reviewed")
    assert "12/40 reviewed" in panel.summary.text() and "DANet-R18" in panel.summary.text()
    assert panel.settings.plan() == default_plan(12)  # not overriding: the automatic plan
    panel.settings.setChecked(True)
    panel.settings.crop.setValue(100)
    with pytest.raises(ValueError, match="crop=100"):
        panel.settings.plan()
    panel.settings.crop.setValue(128)
    panel.settings.minutes.setValue(0)
    plan = panel.settings.plan()
    assert plan.crop == 128 and plan.max_time_s is None
    panel.set_plan(default_plan(30), 30)  # new defaults do not overwrite the user's overrides
    assert panel.settings.plan().crop == 128


def test_versions_table_marks_active_and_requests_rollback(qtbot) -> None:
    panel = FinetunePanel()
    qtbot.addWidget(panel)
    versions = [
        Version(1, "2026-01-01", None, {"note": "imported"}),
        Version(2, "2026-01-02", 1, {"heldout_miou": 0.42, "previous_miou": 0.3, "reviewed_images": 12}),
    ]
    panel.set_versions(versions, 2)
    table = panel.versions.table
    assert table.rowCount() == 2 and table.item(0, 0).text() == "v2" and table.item(0, 2).text() == "42.0%"
    assert table.item(0, 6).text() == "●" and table.item(1, 6).text() == ""
    panel.versions.select_version(2)
    assert not panel.versions.activate_button.isEnabled()  # already active
    panel.versions.select_version(1)
    with qtbot.waitSignal(panel.activate_requested) as blocker:
        panel.versions.activate_button.click()
    assert blocker.args == [1]
