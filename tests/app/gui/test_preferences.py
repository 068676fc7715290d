"""What outlives a launch (issue 10): list order, brush size, fine-tune overrides; and the offer to
reopen the last project at a launch without a path."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui


def test_preferences_survive_a_relaunch(qtbot, messages, project_dir) -> None:
    from app.main_window import MainWindow
    from app.model.settings import RecentProjects, load_settings

    first = MainWindow(recent=RecentProjects.load())
    qtbot.addWidget(first)
    first.canvas.set_brush_size(23)
    first.image_list.set_order("uncertainty")
    panel = first.finetune_panel.settings
    panel.setChecked(True)
    panel.crop.setValue(96)
    with qtbot.waitSignal(first.session.image_opened, timeout=10_000):
        first.session.open_project(project_dir)
    first.close()
    saved = load_settings()
    assert (saved.brush_size, saved.list_order) == (23, "uncertainty")
    assert saved.finetune_overrides is not None and saved.finetune_overrides["crop"] == 96
    second = MainWindow(recent=RecentProjects.load())
    qtbot.addWidget(second)
    assert second.canvas.brush_size() == 23 and second.image_list.order() == "uncertainty"
    assert (
        second.finetune_panel.settings.is_overriding() and second.finetune_panel.settings.crop.value() == 96
    )
    with qtbot.waitSignal(second.session.image_opened, timeout=10_000):
        assert second.offer_last_project()  # answered Yes by the messages fixture
    assert second.session.project.project_dir == project_dir.resolve()
    assert any("Reopen the last project" in text for _, text in messages)
    second.close()
