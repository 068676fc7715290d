#!/usr/bin/env bash
# Build the one-folder bundle dist/danet-annotator/ with PyInstaller (not part of the test run).
#   packaging/build.sh            # uses .venv; installs the "package" extra (pyinstaller) if missing
# The bundle starts with: dist/danet-annotator/danet-annotator [PATH]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" -c "import PyInstaller" 2>/dev/null || "$PY" -m pip install -e ".[package]"
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/danet-annotator.spec
# A smoke test of the bundle: it must import Qt and torch and build the main window offscreen.
QT_QPA_PLATFORM=offscreen dist/danet-annotator/danet-annotator --smoke-test
echo "bundle: dist/danet-annotator/ (desktop entry: resources/danet-annotator.desktop)"
