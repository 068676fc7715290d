"""The end-to-end tests use the GUI tests' window and its recorded message boxes."""

from __future__ import annotations

from tests.app.gui.conftest import camvid_small, messages, project_dir, window  # noqa: F401 - re-used
