"""Allocator settings for CPU runs.

The activations of the paper's networks at batch 32 are 32 MiB and more (e.g. 32 x 64 x 64 x 64 float32), above
glibc's largest dynamic mmap threshold (32 MiB): every such tensor is then mmapped and unmapped, and every use of
fresh pages page-faults. On CPU this made a denoiser training step ~2.5x slower (24-30 s instead of ~10 s, most
of the difference in kernel time). Raising the thresholds keeps freed memory in the heap for reuse.

The other way round, `release_freed_memory` gives freed heap memory back to the OS when a dataset replaces
episodes it has extended.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys
from typing import Optional

log = logging.getLogger(__name__)

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_malloc(mmap_threshold: int = 1 << 30, trim_threshold: int = 1 << 31) -> bool:
    """Raise glibc's mmap and trim thresholds (Linux/glibc only; a no-op elsewhere). True when applied."""
    global _done
    if _done:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = bool(mallopt(_M_MMAP_THRESHOLD, mmap_threshold)) and bool(mallopt(_M_TRIM_THRESHOLD, trim_threshold))
    _done = ok
    log.debug("glibc malloc thresholds raised: %s", ok)
    return ok


@functools.cache
def _malloc_trim() -> Optional[ctypes._CFuncPtr]:
    """glibc's `malloc_trim`, or None on other C libraries."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):
        return None


def release_freed_memory() -> None:
    """Give the memory freed by replaced episodes back to the OS (glibc keeps freed heap blocks otherwise,
    about 10% of a dataset built by extending episodes 100 steps at a time). No-op off glibc."""
    trim = _malloc_trim()
    if trim is not None:
        trim(0)
