"""Allocator settings for CPU runs.

The activations of the paper's networks at batch 32 are 32 MiB and more (e.g. 32 x 64 x 64 x 64 float32), above
glibc's largest dynamic mmap threshold (32 MiB): every such tensor is then mmapped and unmapped, and every use of
fresh pages page-faults. On CPU this made a denoiser training step ~2.5x slower (24-30 s instead of ~10 s, most
of the difference in kernel time). Raising the thresholds keeps freed memory in the heap for reuse.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

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
