"""SIGTERM handled like Ctrl-C (training: the run stops as cleanly as an interrupted one), or by a callback
(play: the window closes at the end of the current frame)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator


@contextlib.contextmanager
def handle_termination() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt (main thread only; elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def on_termination(callback: Callable[[], None]) -> Iterator[None]:
    """Within the block, SIGTERM calls `callback()` (main thread only; elsewhere a no-op). The callback runs
    between two Python bytecodes of the main thread: it should only set a flag."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _call(signum, frame):
        callback()

    previous = signal.signal(signal.SIGTERM, _call)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
