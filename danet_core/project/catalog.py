"""The SQLite catalog of a project: schema, connection settings and transactions.

Why these settings: WAL lets the app read while a worker (or a second process, e.g. the training
dataset reader) writes; ``synchronous=FULL`` makes every committed transaction durable, so a project
reopened after a crash or kill matches the files on disk; a 30 s busy timeout serialises writers of
two processes instead of failing.

Threads: one connection per :class:`Catalog`, opened with ``check_same_thread=False`` and guarded by
an ``RLock`` — every statement runs under the lock, so the GUI thread and a worker thread can share a
``Project``. Transactions are explicit (``BEGIN IMMEDIATE``), autocommit otherwise.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from danet_core.project.records import CatalogDamaged, StorageError

SCHEMA_VERSION = 1
CATALOG_NAME = "project.sqlite"
# Writers of two processes are serialised by SQLite's lock; a command-line call waits this long for the
# other one, the app's GUI thread much less (it retries from its autosave timer instead of freezing).
DEFAULT_BUSY_TIMEOUT_S = 10.0
GUI_BUSY_TIMEOUT_MS = 250


@contextmanager
def storage_errors(path: Path) -> Iterator[None]:
    """Turn SQLite's errors into one :class:`StorageError` message naming the catalog and the cause."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "locked" in text or "busy" in text:
            raise StorageError(
                f"{path}: the catalog is locked by another process (a second window, a `danet` command); "
                "nothing was written, try again"
            ) from exc
        if "full" in text:
            raise StorageError(
                f"{path}: the disk is full ({text}); free some space, nothing was written"
            ) from exc
        raise StorageError(f"{path}: cannot write the catalog ({text})") from exc
    except sqlite3.DatabaseError as exc:
        raise CatalogDamaged(
            f"{path}: the catalog is damaged ({exc}); `danet project rebuild` recovers it from the masks",
            path.parent,
        ) from exc


def is_project_dir(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a project folder: it holds the catalog (``project.sqlite``).

    The one test of "is this a project", used by the store, the CLI and the app. Only the catalog
    counts: an image folder that happens to hold a ``project.json`` (another tool's file) is not one.
    """
    return (Path(path) / CATALOG_NAME).is_file()


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    rel_path TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'new',
    width INTEGER,
    height INTEGER,
    file_size INTEGER,
    mtime_ns INTEGER,
    model_version INTEGER,
    pixels_changed INTEGER,
    seconds_spent REAL,
    uncertainty REAL,
    has_mask INTEGER NOT NULL DEFAULT 0,
    has_prediction INTEGER NOT NULL DEFAULT 0,
    missing INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT
);
CREATE INDEX IF NOT EXISTS images_status ON images(status);
CREATE TABLE IF NOT EXISTS model_versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    file TEXT NOT NULL,
    created TEXT NOT NULL,
    parent INTEGER,
    metrics TEXT NOT NULL DEFAULT '{}',
    source TEXT NOT NULL DEFAULT ''
);
"""

IMAGE_COLUMNS = (
    "id, rel_path, status, width, height, model_version, pixels_changed, seconds_spent, uncertainty, "
    "has_mask, has_prediction, missing"
)


class Catalog:
    """A locked sqlite3 connection to ``<project>/project.sqlite``."""

    def __init__(
        self, path: Path, *, create: bool = False, busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S
    ) -> None:
        self.path = path
        self._lock = threading.RLock()
        if not create and not path.is_file():
            raise FileNotFoundError(path)
        self._conn = sqlite3.connect(
            str(path), timeout=busy_timeout_s, check_same_thread=False, isolation_level=None
        )
        self.busy_timeout_ms = int(busy_timeout_s * 1000)
        self._conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
        mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"{path}: cannot switch the catalog to WAL mode (got {mode})")
        self._conn.execute("PRAGMA synchronous=FULL")
        if create:
            with self.transaction() as conn:
                for stmt in _SCHEMA.split(";"):
                    if stmt.strip():
                        conn.execute(stmt)

    @contextmanager
    def transaction(
        self, *, busy_timeout_ms: int | None = None, before_commit: Callable[[], None] | None = None
    ) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any exception), under the lock.

        ``busy_timeout_ms``: how long to wait for another process's write lock this time (the GUI
        thread passes a short one and retries later instead of freezing). ``before_commit``: called
        after the block, right before COMMIT (a staged file goes in place there). SQLite errors
        become :class:`StorageError` naming the catalog.
        """
        with self._lock, storage_errors(self.path):
            if busy_timeout_ms is not None:
                self._conn.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            finally:
                if busy_timeout_ms is not None:
                    self._conn.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            try:
                yield self._conn
                if before_commit is not None:
                    before_commit()
                self._conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple]:
        with self._lock, storage_errors(self.path):
            return self._conn.execute(sql, params).fetchall()

    def data_version(self) -> int:
        """Changes whenever *another* connection (process, window) commits: cheap change detection."""
        return int(self.query("PRAGMA data_version")[0][0])

    def integrity_problems(self) -> list[str]:
        """``PRAGMA quick_check`` plus a read of every table; [] when the catalog is sound."""
        with self._lock:
            try:
                rows = self._conn.execute("PRAGMA quick_check").fetchall()
                problems = [str(r[0]) for r in rows if str(r[0]).lower() != "ok"]
                for table in ("meta", "images", "model_versions"):
                    self._conn.execute(f"SELECT * FROM {table}").fetchall()
            except sqlite3.DatabaseError as exc:
                return [str(exc)]
        return problems

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else default

    def set_meta(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
