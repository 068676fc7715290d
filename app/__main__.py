"""``danet-annotator`` entry point (placeholder window until the app lands)."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    from PySide6.QtWidgets import QApplication, QLabel

    app = QApplication(sys.argv if argv is None else argv)
    label = QLabel("DANet Annotator")
    label.show()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
