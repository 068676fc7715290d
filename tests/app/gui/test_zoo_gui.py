"""Model ▸ Get a pretrained model…: download from a 127.0.0.1 server in a worker, import, activate."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "danet_core"))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "danet_core" / "models"))
from loopback_server import LoopbackServer  # noqa: E402
from reference_danets import official_r18_checkpoint  # noqa: E402

pytestmark = pytest.mark.gui
NAME = "official-danet101-cityscapes"


@pytest.fixture
def street_project(tmp_path, write_images):
    from danet_core.project import Project

    images = write_images(tmp_path / "images", 2, 48, 64, prefix="f")
    Project.create(tmp_path / "project", images, "cityscapes").close()
    return tmp_path / "project"


@pytest.fixture
def official_bytes(tmp_path):
    official_r18_checkpoint(tmp_path / "served.pth")
    return (tmp_path / "served.pth").read_bytes()


def test_download_imports_and_activates_the_model(qtbot, window, street_project, official_bytes, messages):
    window.open_path(street_project)
    pre, project = window.presegment, window.session.project
    assert not pre.has_model()
    with LoopbackServer() as srv:
        srv.routes["/DANet101.pth.tar"] = (official_bytes, "ok")
        with qtbot.waitSignal(pre.model_changed, timeout=60_000):
            window.zoo.download(NAME, url=srv.url("/DANet101.pth.tar"))
    version = project.active_model_version()
    assert version is not None and pre.has_model() and not messages
    assert pre.mapping is not None and pre.mapping.method == "train_id" and not pre.mapping.unmapped
    from danet_core.checkpoints import load_model

    model = load_model(version.path)
    assert model.meta.config.multi_grid == (4, 8, 16) and model.meta.extra["source"] == "official"


def test_offline_shows_one_message_with_the_place_for_the_file(qtbot, window, street_project, messages):
    from danet_core import zoo

    window.open_path(street_project)
    with LoopbackServer() as srv:
        url = srv.url("/gone")
    with qtbot.waitSignal(window.zoo.error, timeout=20_000):
        window.zoo.download(NAME, url=url)
    qtbot.waitUntil(lambda: window.zoo.worker is None, timeout=10_000)
    assert len(messages) == 1 and f"place it at {zoo.cached_file(zoo.get_entry(NAME))}" in messages[0][0]
    assert "zoo" not in window.jobs.running()


def test_dialog_lists_every_entry_and_returns_the_chosen_name(qtbot):
    from app.model.zoo_choice import zoo_rows
    from app.widgets.zoo_dialog import ZooDialog
    from danet_core import zoo

    dialog = ZooDialog(zoo_rows("voc", cached=lambda e: False), "/cache")
    qtbot.addWidget(dialog)
    assert (
        dialog.list.count() == len(zoo.ENTRIES) and dialog.chosen() == "mmseg-danet-r101-voc12aug-512x512-40k"
    )
    assert "Pascal VOC" in dialog.details.text()
    dialog.list.setCurrentRow(3)
    assert dialog.chosen() == dialog.rows[3].name and dialog.details.text() == dialog.rows[3].details
