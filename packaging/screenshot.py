"""Take docs/screenshot.png: the real main window (run under Xvfb) with a pre-segmented CamVid image and
a heatmap.

    xvfb-run -s "-screen 0 1600x1000x24" .venv/bin/python packaging/screenshot.py --checkpoint MODEL.pt

The project is temporary (a few CamVid val frames from ../shared/data); the checkpoint is imported into
it exactly as Model ▸ Load model… does. Settings and logs go to a temporary HOME.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CAMVID_VAL = REPO.parent / "shared" / "data" / "camvid" / "val"


def _wait(app, predicate, timeout_s: float = 600) -> None:
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise TimeoutError("screenshot: timed out waiting for the app")
        app.processEvents()
        time.sleep(0.01)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshot.png")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--open", type=int, default=2, help="which image of the list to show (0-based)")
    parser.add_argument("--heatmap", default="confidence", choices=("confidence", "entropy", "margin"))
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="danet-shot-"))
    for var in ("HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = str(tmp / var.lower())

    from PySide6.QtWidgets import QApplication

    from app.main_window import MainWindow
    from app.model.settings import AppSettings, RecentProjects
    from danet_core.project import Project

    images = tmp / "camvid-val"
    images.mkdir()
    for src in sorted(CAMVID_VAL.glob("*.png"))[: args.images]:
        (images / src.name).symlink_to(src)
    Project.create(tmp / "project", images, "camvid").close()

    app = QApplication([sys.argv[0]])
    app.setApplicationDisplayName("DANet Annotator")
    window = MainWindow(settings=AppSettings(prefetch=1), recent=RecentProjects(path=tmp / "recent.json"))
    window.resize(1500, 900)
    window.show()
    session, pre = window.controller("session"), window.controller("presegment")
    session.open_project(tmp / "project")
    _wait(app, lambda: session.image_id is not None)
    pre.load_model_file(args.checkpoint)
    _wait(app, lambda: pre.has_model())
    target = window.image_list.visible_ids()[args.open]
    session.open_image(target)
    _wait(app, lambda: session.image_id == target and session.confidence is not None)
    window.heatmap_panel.set_kind(args.heatmap)
    window.heatmap_panel.opacity.setValue(40)  # the class overlay stays visible underneath
    window.image_list.set_current(target)
    _wait(app, lambda: all(window.image_list.model.has_thumbnail(i) for i in window.image_list.visible_ids()))
    # a cursor position over the road fills the status bar (position, class, confidence)
    h, w = session.rgb.shape[:2]
    session._on_cursor(int(w * 0.45), int(h * 0.85))
    window.statusBar().showMessage("Pre-segmented by the active model · Ctrl+Enter: reviewed, next")
    window.canvas.fit_to_window()
    deadline = time.monotonic() + 1.5
    _wait(app, lambda: time.monotonic() > deadline)
    screen = window.screen()
    shot = screen.grabWindow(
        0, window.x(), window.y(), window.frameGeometry().width(), window.frameGeometry().height()
    )
    if shot.isNull() or shot.width() < 100:
        shot = window.grab()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    ok = shot.save(str(args.out))
    print(f"screenshot {'saved' if ok else 'FAILED'}: {args.out} ({shot.width()}x{shot.height()})")
    session.close_project()
    window.close()
    from app.__main__ import _finish

    return _finish(0 if ok else 1)


if __name__ == "__main__":
    sys.exit(main())
