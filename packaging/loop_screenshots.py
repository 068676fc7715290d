"""Screenshots of the labeling loop in the real window (docs/loop-*.png), at 1366 x 768 under Xvfb.

    Xvfb :88 -screen 0 1366x768x24 & DISPLAY=:88 .venv/bin/python packaging/loop_screenshots.py

The steps are those of the end-to-end test (tests/app/e2e/loop.py): create a project from 16 CamVid val
frames, import the ground truth of 6 in the window, fine-tune a first model (a tiny budget), see its
predictions, correct one, mark it reviewed, export Cityscapes from the Export dialog. Each screenshot is
of the whole X screen (`import -window root`), dialogs included. Settings and logs go to a temporary HOME.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
CAMVID = REPO.parent / "shared" / "data" / "camvid"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--iters", type=int, default=12, help="fine-tune iterations (tiny budget)")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="danet-shots-"))
    os.environ.update(HOME=str(home), XDG_CONFIG_HOME=str(home / "c"), XDG_DATA_HOME=str(home / "d"))
    os.environ.setdefault("DANET_OFFLINE", "1")
    from PySide6.QtWidgets import QApplication, QMessageBox

    from app.main_window import MainWindow
    from tests.app.e2e import loop

    app = QApplication([])
    shown: list[str] = []
    QMessageBox.information = staticmethod(lambda _p, title, text, *a, **k: shown.append(f"{title}: {text}"))  # type: ignore[method-assign]
    QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Yes)  # type: ignore[method-assign]
    window = MainWindow()
    window.show()

    def wait(predicate: object, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        while not predicate():  # type: ignore[operator]
            if time.monotonic() > end:
                raise TimeoutError("the window did not get there in time")
            app.processEvents()
            time.sleep(0.01)

    def shot(name: str, settle_s: float = 1.0) -> None:
        end = time.monotonic() + settle_s
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.02)
        path = args.out / f"loop-{name}.png"
        subprocess.run(["import", "-window", "root", str(path)], check=True)
        print(path)

    data = home / "camvid"
    names = loop.make_image_folder(CAMVID, data, 16, None)
    loop.create_project(window, data / "images", wait)
    shot("1-project")
    importer = window.controller("import")
    dialog = importer.open_dialog()
    subset = data / "gt_subset"
    subset.mkdir()
    for name in names[:6]:
        (subset / name).write_bytes((data / "ground_truth" / name).read_bytes())
    dialog.folder.setText(str(subset))
    dialog.inspect_folder()
    wait(lambda: dialog.inspection is not None and not dialog.checking, 60)
    shot("2-import-dialog")
    done: list[object] = []
    importer.finished.connect(done.append)
    dialog.buttons.accepted.emit()
    wait(lambda: bool(done), 120)
    shot("3-imported")
    window.docks["finetune"].raise_()
    ctrl = window.finetune
    wait(lambda: window.devices is not None, 60)
    s = ctrl.panel.settings
    s.setChecked(True)
    s.crop.setValue(128)
    s.batch.setValue(2)
    s.iters.setValue(args.iters)
    s.minutes.setValue(0.0)
    s.val_fraction.setValue(0.34)
    activated: list[int] = []
    ctrl.model_activated.connect(activated.append)
    assert ctrl.start()
    wait(lambda: len(ctrl.panel.curves.point_counts()) > 0, 600)
    shot("4-fine-tuning")
    wait(lambda: bool(activated), 1200)
    loop.wait_for_predictions(window, wait)
    loop.open_first_unreviewed(window, wait)
    shot("5-prediction")
    window.heatmap_panel.set_kind("confidence")
    shot("6-confidence")
    window.heatmap_panel.set_kind("off")
    window.canvas.set_overlay_opacity(0.35)
    for x in range(300, 420, 8):  # the car on the right was predicted as road / building: paint it Car
        loop.correct_with_the_brush(window, x, 225, 8)
        loop.correct_with_the_brush(window, x, 245, 8)
    shot("7-corrected")
    loop.mark_reviewed_and_next(window, wait)
    exporter = window.exporter
    export_dialog = exporter.make_dialog()
    for fmt, box in export_dialog.format_boxes.items():
        box.setChecked(fmt == "cityscapes")
    export_dialog.folder.setText(str(home / "export"))
    export_dialog.show()
    shot("8-export-dialog")
    exported: list[object] = []
    exporter.finished.connect(exported.append)
    export_dialog.buttons.accepted.emit()
    exporter.remember(export_dialog.settings())
    exporter.start(export_dialog.plan)
    wait(lambda: bool(exported), 300)
    shot("9-exported")
    print("\n".join(shown))
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
