"""Progress of a long phase (training updates, collection): a tqdm bar on a terminal; elsewhere (a log file, a
pipe) no bar, whose redraws would fill it with carriage returns, but one log line when the phase ends."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType
from typing import IO, Optional

from tqdm import tqdm

log = logging.getLogger(__name__)


def on_terminal(stream: Optional[IO[str]] = None) -> bool:
    """Whether `stream` (default: stderr, where the bars and the log go) is a terminal."""
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # not a file, or a closed one
        return False


class Phase:
    """A phase of `total` units (steps, episodes, updates), as a context manager.

    With `show`: a bar on a terminal, or else one log line when the phase ends (`desc: summary, in 12.3s`,
    `summary` set by the caller before the end; none after an error). Without `show`, or with `total` 0: nothing.
    """

    def __init__(self, desc: str, total: int, unit: str, show: bool, leave: bool = False) -> None:
        self.desc = desc
        self.summary: Optional[str] = None
        self.bar_shown = bool(show and total > 0 and on_terminal())
        self._line = bool(show and total > 0 and not self.bar_shown)
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, disable=not self.bar_shown)
        self._start = time.perf_counter()

    def update(self, n: int = 1) -> None:
        self._bar.update(n)

    def __enter__(self) -> Phase:
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self._bar.close()
        if self._line and exc_type is None and self.summary is not None:
            log.info("%s: %s in %.1fs", self.desc, self.summary, time.perf_counter() - self._start)
