"""Fault-injection suite (issue 13): bad inputs through every entry point, kills during saves, a full
filesystem and a locked catalog. Every test here is marked ``faults``; the kill and full-disk runs are
also ``slow``. Run alone with ``pytest tests/faults``."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/faults/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.faults)


def tree_digest(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` (to prove that saved data did not change)."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(("-wal", "-shm"))
    }


@pytest.fixture
def digest():
    return tree_digest
