"""The one-way dependency rules hold: import-linter contracts, and a Qt-less import of the core layers."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_core_layers_import_without_pyside6():
    """danet_core and app.model must work on a machine without PySide6 (headless training servers)."""
    script = textwrap.dedent(
        """
        import importlib, pkgutil, sys

        class _NoQt:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in ("PySide6", "shiboken6"):
                    raise ImportError(f"{name} blocked: core layers must not need Qt")
                return None

        sys.meta_path.insert(0, _NoQt())
        import danet_core, app.model
        for pkg in (danet_core, app.model):
            for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
                if info.name.endswith("__main__"):
                    continue
                importlib.import_module(info.name)
        print("ok")
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("ok")
