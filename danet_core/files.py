"""Atomic file writes: every write of user data goes through here.

Why one module: a crash, a kill or a full disk must leave either the old or the new file, never a torn
one (temp file in the same folder, fsync, ``os.replace``, fsync of the folder).

Decisions:
- Temp files are named ``.<target name>.<writer pid>.<random>.tmp``, so a later process can tell the temp
  file of a killed writer (its pid is gone) from one being written right now, and remove it
  (:func:`remove_stale_temp_files`), instead of waiting an hour to be safe.
- Written files get the permissions of a normally created file (``0o666`` minus the umask), not
  ``mkstemp``'s private ``0o600``: an exported dataset must be readable by other users and containers.
- :class:`StagedWrite` splits a write in two (stage the new content, then put it in place) so a caller
  can make a file and a database row change together: stage, update the row, :meth:`StagedWrite.commit`,
  and on a failed database commit :meth:`StagedWrite.rollback` restores the previous file.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import time
from pathlib import Path

_TEMP_RE = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.[^.]+\.tmp$")
_LEGACY_TEMP_RE = re.compile(r"^\..+\.tmp$")


def _current_umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


FILE_MODE = 0o666 & ~_current_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not supported on this platform (Windows)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def named(exc: OSError, path: Path) -> OSError:
    """``exc`` with ``path`` in its message when it names no file (ENOSPC from write() names none)."""
    if exc.filename is not None:
        return exc
    return OSError(exc.errno, f"{path}: cannot write ({exc.strerror or exc})")


def _write_temp(target: Path, data: bytes) -> Path:
    """``data`` in a fsynced temp file beside ``target`` (removed again if writing fails)."""
    try:
        return _write_temp_unnamed(target, data)
    except OSError as exc:
        raise named(exc, target) from exc


def _write_temp_unnamed(target: Path, data: bytes) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` so that a crash leaves either the old or the new file.

    Temp file in the same folder, fsync, os.replace, fsync of the folder. On failure (disk full, no
    permission) the temp file is removed and the old file is untouched; the OSError propagates.
    """
    target = Path(path)
    tmp = _write_temp(target, data)
    try:
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(target.parent)


class StagedWrite:
    """A file write in two steps: the new content is staged now, put in place by :meth:`commit`.

    Use as a context manager: leaving the block without :meth:`commit` removes the staged file;
    :meth:`rollback` after a commit puts the previous content (or absence) of the file back.
    """

    def __init__(self, path: str | os.PathLike[str], data: bytes) -> None:
        self.path = Path(path)
        self._staged: Path | None = _write_temp(self.path, data)
        self._backup: Path | None = None
        self._existed = False
        self.committed = False

    def commit(self) -> None:
        """Put the staged file in place (the old one is kept as a hidden backup until :meth:`close`)."""
        assert self._staged is not None, "commit() of a staged write that was closed"
        self._existed = self.path.exists()
        if self._existed:
            backup = self.path.with_name(f".{self.path.name}.{os.getpid()}.backup.tmp")
            with contextlib.suppress(FileNotFoundError):
                backup.unlink()
            os.link(self.path, backup)
            self._backup = backup
        os.replace(self._staged, self.path)
        self._staged = None
        self.committed = True
        _fsync_dir(self.path.parent)

    def rollback(self) -> None:
        """Undo :meth:`commit`: the previous file comes back (or the new one goes, if there was none)."""
        if not self.committed:
            return
        if self._backup is not None:
            os.replace(self._backup, self.path)
            self._backup = None
        elif not self._existed:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        self.committed = False
        _fsync_dir(self.path.parent)

    def close(self) -> None:
        for leftover in (self._staged, self._backup):
            if leftover is not None:
                with contextlib.suppress(OSError):
                    leftover.unlink()
        self._staged = self._backup = None

    def __enter__(self) -> StagedWrite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temp_files(folder: str | os.PathLike[str], *, max_age_s: float = 3600.0) -> int:
    """Remove the temp files that killed writers left in ``folder`` (not recursive); returns how many.

    A temp file is stale when the process named in it is gone, or (names without a pid, from older
    versions) when it is older than ``max_age_s``. A live writer's file is never touched.
    """
    removed = 0
    cutoff = time.time() - max_age_s
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        m = _TEMP_RE.match(entry.name)
        try:
            if m is not None:
                stale = not _pid_alive(int(m["pid"]))
            elif _LEGACY_TEMP_RE.match(entry.name):
                stale = entry.stat().st_mtime < cutoff
            else:
                continue
            if stale and entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed
