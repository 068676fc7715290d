"""HTTP(S) download of one large file: progress, resume (HTTP Range), cancel, timeout, sha256 check.

Why our own and not ``torch.hub.download_url_to_file``: that one has no resume, no cancel callback and no
read timeout (a stalled server hangs it), and it cannot tell an HTML error page from a checkpoint.

The bytes go to ``DEST.part`` (kept on a cut connection, a timeout or a cancel, so the next call resumes
with ``Range: bytes=N-``); when the file is complete and its sha256 matches, the part file is fsynced
and renamed onto ``DEST`` (``os.replace``: atomic, a reader never sees half a file). Importing this module
never imports torch.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from danet_core.jobs import ProgressFn, StopFn, check_stop

CHUNK = 1 << 20
DEFAULT_TIMEOUT_S = 10.0
USER_AGENT = "danet-annotator"


class DownloadError(OSError):
    """A download that failed: offline, refused, HTTP error, stalled, cut, or the wrong bytes."""


class ChecksumError(DownloadError):
    """The downloaded file's sha256 does not start with the published prefix."""


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    sha256: str
    size: int
    resumed_from: int


def sha256_of(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def verify_sha256(path: Path, prefix: str | None) -> str:
    """The file's sha256; ChecksumError naming both values when it does not start with ``prefix``."""
    digest = sha256_of(path)
    if prefix and not digest.startswith(prefix.lower()):
        raise ChecksumError(
            f"{path}: sha256 {digest[: max(8, len(prefix))]}... does not match the published "
            f"{prefix}...; the file is corrupt or not the one published"
        )
    return digest


def _open(url: str, start: int, timeout: float) -> http.client.HTTPResponse:
    headers = {"User-Agent": USER_AGENT}
    if start:
        headers["Range"] = f"bytes={start}-"
    request = urllib.request.Request(url, headers=headers)
    response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) URLs only
    assert isinstance(response, http.client.HTTPResponse)  # http/https handlers return one
    return response


def _total_size(response: http.client.HTTPResponse, start: int) -> int | None:
    """Full file size from Content-Range (a 206) or Content-Length (a 200)."""
    content_range = response.headers.get("Content-Range", "")
    if response.status == 206 and "/" in content_range:
        tail = content_range.rsplit("/", 1)[1].strip()
        return int(tail) if tail.isdigit() else None
    length = response.headers.get("Content-Length")
    return int(length) + (start if response.status == 206 else 0) if length and length.isdigit() else None


def _describe(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{exc.reason}"
    if isinstance(exc, TimeoutError | socket.timeout):
        return "no data within the timeout (server stalled or network blocked)"
    return f"{type(exc).__name__}: {exc}"


def _transfer(
    url: str,
    part: Path,
    *,
    timeout: float,
    progress: ProgressFn | None,
    should_stop: StopFn | None,
) -> tuple[int, int | None]:
    """One attempt: append to ``part`` from its current size. Returns (bytes now in part, total size)."""
    start = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, start, timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and start:  # the part already holds the whole file
            return start, start
        raise
    with response:
        if start and response.status != 206:
            start = 0  # the server ignored the Range header: start over
        total = _total_size(response, start)
        done = start
        with open(part, "ab" if start else "wb") as fh:
            while True:
                check_stop(should_stop)
                block = response.read1(CHUNK)
                if not block:
                    break
                fh.write(block)
                done += len(block)
                if progress is not None:
                    progress(done, total or 0, f"{done / 1e6:.1f} MB")
            fh.flush()
            os.fsync(fh.fileno())
    return done, total


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    sha256_prefix: str | None = None,
    timeout: float = DEFAULT_TIMEOUT_S,
    retries: int = 2,
    progress: ProgressFn | None = None,
    should_stop: StopFn | None = None,
) -> DownloadResult:
    """Download ``url`` to ``dest`` (resuming ``dest.part``), check the sha256 prefix, rename atomically.

    A connection cut after some bytes arrived is retried up to ``retries`` times with a Range request;
    offline, refused, HTTP errors and stalls (no byte for ``timeout`` seconds) fail at once with a
    :class:`DownloadError` naming the URL. ``should_stop()`` -> :class:`danet_core.jobs.Cancelled`
    (the part file is kept for a later resume). A checksum mismatch deletes the part file.
    """
    target = Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(target)
    resumed_from = part.stat().st_size if part.exists() else 0
    attempt = 0
    while True:
        before = part.stat().st_size if part.exists() else 0
        try:
            done, total = _transfer(url, part, timeout=timeout, progress=progress, should_stop=should_stop)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            now = part.stat().st_size if part.exists() else 0
            cut = isinstance(exc, http.client.IncompleteRead | ConnectionError) or (
                now > before and not isinstance(exc, TimeoutError | socket.timeout)
            )
            if cut and attempt < retries:
                attempt += 1
                continue
            raise DownloadError(f"cannot download {url}: {_describe(exc)}") from exc
        if total is not None and done < total:
            if attempt < retries:
                attempt += 1
                continue
            raise DownloadError(f"cannot download {url}: connection closed after {done} of {total} bytes")
        break
    try:
        digest = verify_sha256(part, sha256_prefix)
    except ChecksumError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, target)
    return DownloadResult(target, digest, target.stat().st_size, resumed_from)
