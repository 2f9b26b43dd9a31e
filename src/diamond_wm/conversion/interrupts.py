"""Ctrl-C and SIGTERM during a conversion stop it, even when the first KeyboardInterrupt is lost.

A signal handler's exception is raised in whatever Python code runs at that moment; raised inside a weakref
callback or a `__del__` (the garbage collector runs them at any time), it is printed as "Exception ignored" and
the program goes on. `StopOnSignals` raises KeyboardInterrupt at once and remembers the signal, and the conversion
loops call `check()` between episodes, which raises again if the first one was swallowed.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any, Optional

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopOnSignals:
    """Context manager: SIGINT/SIGTERM raise KeyboardInterrupt (main thread only; an ignored SIGINT stays ignored)."""

    def __init__(self) -> None:
        self.signum: Optional[int] = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Optional[FrameType]) -> None:
        self.signum = signum
        raise KeyboardInterrupt(f"signal {signum}")

    def check(self) -> None:
        """KeyboardInterrupt if a signal came (its first KeyboardInterrupt may have been swallowed)."""
        if self.signum is not None:
            raise KeyboardInterrupt(f"signal {self.signum}")

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for s in _SIGNALS:
                if signal.getsignal(s) is not signal.SIG_IGN:
                    self._previous[s] = signal.signal(s, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous.clear()
