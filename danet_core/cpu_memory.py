"""glibc allocator settings for large-tensor CPU inference, and giving the memory back afterwards.

Why: glibc serves every allocation above its mmap threshold (128 KiB, growing to at most 32 MiB) with a
fresh ``mmap``, and the kernel maps and zeroes each page on first touch. A DANet-R50 forward at 512 x 1024
allocates ~1.4 GB of activations that way (360,000 page faults per forward, measured) and spends ~10% of
its CPU time in the kernel doing so; a 1024 x 2048 forward 1.95 million faults and 3.2 s of 37 (1
thread). A higher mmap threshold keeps freed activations in the heap, where the next layer (and the next
image) reuses them already mapped, but the heap also fragments and the peak grows. Measured at 1024 x 2048
(R50, 1 thread; faults, kernel s, peak RSS): default 1.95 M / 3.2 s / 1.91 GB; 64 MiB 1.55 M / 2.5 s /
2.09 GB; **256 MiB 0.26 M / 0.45 s / 2.17 GB**; 1 GiB ~0 / 0.05 s / 2.49 GB. 256 MiB keeps most of the
gain within the memory target. After a prediction the heap keeps its peak: :func:`release_memory` hands
the free part back (``malloc_trim``), and the app calls it when its inference queue goes idle.

Only glibc (Linux) has these knobs; elsewhere both functions do nothing. ``DANET_MALLOC_TUNE=0`` in the
environment turns the tuning off.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 256 << 20
_state: dict[str, object] = {}


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    if "libc" not in _state:
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            _state["libc"] = libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
        except OSError:
            _state["libc"] = None
    lib = _state["libc"]
    return lib if isinstance(lib, ctypes.CDLL) else None


def tune_allocator() -> bool:
    """Raise glibc's mmap threshold to ``MMAP_THRESHOLD`` (trim at twice that) once per process; True
    when the settings are in effect."""
    if "tuned" in _state:
        return bool(_state["tuned"])
    libc = _libc()
    ok = False
    if libc is not None and os.environ.get("DANET_MALLOC_TUNE", "1") != "0":
        ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
            libc.mallopt(_M_TRIM_THRESHOLD, 2 * MMAP_THRESHOLD)
        )
        if not ok:
            log.info("glibc refused the allocator settings; large tensors stay mmap-allocated")
    _state["tuned"] = ok
    return ok


def release_memory() -> None:
    """Give the heap's free memory back to the system (after inference, when nothing runs)."""
    libc = _libc()
    if libc is not None and _state.get("tuned"):
        libc.malloc_trim(0)
