"""``danet-annotator [PATH] [--labels SET]``: the desktop application.

PATH is a project folder or an image folder; an image folder's project lives in a predictable place
(see :func:`app.model.settings.default_project_dir`), created on first open with the label set given by
``--labels`` (or asked for in a dialog).
"""

from __future__ import annotations

import argparse
import logging
import sys


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("danet-annotator")
    except PackageNotFoundError:  # a PyInstaller bundle has no package metadata
        return "bundled"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="danet-annotator", description="Label images with DANet in the loop."
    )
    parser.add_argument("path", nargs="?", help="project folder or image folder to open")
    parser.add_argument(
        "--labels",
        default=None,
        help="label set of a new project: cityscapes, camvid, voc or a label-set JSON file",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--smoke-test", action="store_true", help="build the main window, then exit 0 (packaging check)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    from app import logging_setup

    logging_setup.configure_logging(logging.DEBUG if args.verbose else logging.INFO)

    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    app = QApplication([sys.argv[0]])  # Qt options go through the environment (QT_QPA_PLATFORM, ...)
    app.setApplicationName("danet-annotator")
    app.setOrganizationName("danet-annotator")
    app.setApplicationDisplayName("DANet Annotator")
    app.setDesktopFileName("danet-annotator")

    from app.main_window import MainWindow

    window = MainWindow()
    logging_setup.install_excepthook(lambda msg, details: window.errors.report.emit(msg, details))
    if args.smoke_test:
        window.close()
        print("danet-annotator smoke test: main window built")
        return 0
    window.show()
    if args.path:
        window.open_path(args.path, args.labels)
    else:
        window.offer_last_project()
    status = app.exec()
    return _finish(status)


def _finish(status: int) -> int:
    """Wait for background jobs (a forward pass cannot be interrupted midway) before Python tears down
    the QThreads; a job still running after a minute only reads data, so the process exits anyway."""
    import os

    from app.workers.base import shutdown_all

    if not shutdown_all(60_000):
        logging.getLogger(__name__).warning("background jobs still running at exit; leaving without them")
        logging.shutdown()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
