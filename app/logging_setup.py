"""Logging to a rotating file under the platformdirs log dir, and an excepthook that keeps the app alive.

Why: a labeling session lasts days. An unexpected exception in a slot must not kill the app (losing the
unsaved stroke) and must leave the full traceback somewhere a user can attach to a bug report, while the
user sees one readable message. PySide6 routes exceptions raised in slots to ``sys.excepthook``; the
default hook only prints to a console that a desktop user never sees.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import platformdirs

APP_NAME = "danet-annotator"
LOG_FORMAT = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"

log = logging.getLogger(__name__)

ErrorSink = Callable[[str, str], None]  # (one-line message, full traceback)


def log_dir() -> Path:
    """Folder of the log files (e.g. ``~/.local/state/danet-annotator/log`` on Linux)."""
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def log_file() -> Path:
    return log_dir() / "danet-annotator.log"


def configure_logging(level: int = logging.INFO, *, path: Path | None = None) -> Path:
    """Send records of every logger to a rotating file (5 x 2 MB) and to stderr; return the file path.

    Idempotent: calling it twice (tests, re-entry of ``main``) does not duplicate handlers.
    """
    target = path or log_file()
    target.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(min(level, logging.INFO))
    for handler in list(root.handlers):
        if getattr(handler, "_danet_app", False):
            root.removeHandler(handler)
            handler.close()
    file_handler = logging.handlers.RotatingFileHandler(
        target, maxBytes=2_000_000, backupCount=5, encoding="utf-8"
    )
    file_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    file_handler.setLevel(logging.DEBUG)
    file_handler._danet_app = True  # type: ignore[attr-defined]
    stream_handler = logging.StreamHandler()
    stream_handler.setFormatter(logging.Formatter(LOG_FORMAT))
    stream_handler.setLevel(level)
    stream_handler._danet_app = True  # type: ignore[attr-defined]
    root.addHandler(file_handler)
    root.addHandler(stream_handler)
    log.info("logging to %s", target)
    return target


def format_exception(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> str:
    return "".join(traceback.format_exception(exc_type, exc, tb))


def one_line(exc: BaseException) -> str:
    """The user-facing message: our errors carry one line naming the file/value; others get their type."""
    text = str(exc).strip() or type(exc).__name__
    if not isinstance(exc, ValueError | OSError):
        text = f"{type(exc).__name__}: {text}"
    return text.splitlines()[0] if text else type(exc).__name__


def install_excepthook(sink: ErrorSink) -> Callable[[], None]:
    """Route uncaught exceptions (GUI thread and Python threads) to the log file and ``sink``.

    Returns a function that restores the previous hooks. KeyboardInterrupt keeps its default behaviour.
    """
    previous_hook = sys.excepthook
    previous_thread_hook = threading.excepthook

    def hook(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            previous_hook(exc_type, exc, tb)
            return
        text = format_exception(exc_type, exc, tb)
        log.error("uncaught exception:\n%s", text)
        try:
            sink(one_line(exc), text)
        except Exception:  # noqa: BLE001 - the error display itself failed; the log has it
            log.exception("could not show the error to the user")

    def thread_hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is None:
            return
        hook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = hook
    threading.excepthook = thread_hook

    def restore() -> None:
        sys.excepthook = previous_hook
        threading.excepthook = previous_thread_hook

    return restore
