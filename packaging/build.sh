#!/usr/bin/env bash
# Build the one-folder bundle dist/danet-annotator/ with PyInstaller (not part of the test run).
#   packaging/build.sh
# The bundle starts with: dist/danet-annotator/danet-annotator [PATH]
# It builds from its own venv (build/bundle-venv) with only the runtime dependencies and PyInstaller:
# the dev extra pulls cityscapesscripts, whose obsolete `typing` backport PyInstaller refuses to bundle.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${BUNDLE_VENV:-build/bundle-venv}
if [ ! -x "$VENV/bin/python" ]; then
    "${PYTHON:-python3}" -m venv "$VENV"
    "$VENV/bin/pip" install -e ".[package]"
fi
PY="$VENV/bin/python"
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/danet-annotator.spec
# A smoke test of the bundle: it must import Qt and torch and build the main window offscreen.
QT_QPA_PLATFORM=offscreen dist/danet-annotator/danet-annotator --smoke-test
echo "bundle: dist/danet-annotator/ (desktop entry: resources/danet-annotator.desktop)"
