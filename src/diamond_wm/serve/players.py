"""One player's state on the server: their game, what waits to be sent to them, their input rate.

`Outbox`: what the server sends one connection, bounded: control messages in a queue of at most `MAX_CONTROL`
(the oldest dropped past it) and one frame slot that a newer frame overwrites (a client that reads slowly skips
frames; one that never reads holds at most one frame and `MAX_CONTROL` messages).
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

from diamond_wm.interactive.commands import Input
from diamond_wm.serve.host import PlayerGame

MAX_CONTROL = 64  # control messages waiting for one connection
MAX_PENDING_INPUTS = 256  # inputs waiting for the next tick of one player
FPS_WINDOW = 2.0  # seconds of sent frames the frame rate is measured over
RELEASE_ALL = object()  # in a player's pending inputs: every key and button released


class RateLimiter:
    """Token bucket: `rate` events per second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: float):
        if not rate > 0 or not burst >= 1:
            raise ValueError(f"rate {rate!r}, burst {burst!r}: expected rate > 0 and burst >= 1")
        self.rate, self.burst = float(rate), float(burst)
        self.tokens = self.burst
        self.updated = time.monotonic()

    def allow(self, now: Optional[float] = None) -> bool:
        """True (and one token spent) when an event may pass now."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


Outgoing = Union[str, bytes, None]  # text, binary frame, or None: close the connection


class Outbox:
    """What waits to be sent to one connection (see the module docstring)."""

    def __init__(self) -> None:
        self.control: collections.deque[str] = collections.deque()
        self.frame: Optional[bytes] = None
        self.closing = False
        self.closed = False
        self.frames_put = 0
        self.frames_skipped = 0  # overwritten before being sent
        self.control_dropped = 0
        self.sent_times: collections.deque[float] = collections.deque(maxlen=256)
        self._ready = asyncio.Event()

    def put_control(self, text: str) -> None:
        if self.closing:
            return
        if len(self.control) >= MAX_CONTROL:
            self.control.popleft()
            self.control_dropped += 1
        self.control.append(text)
        self._ready.set()

    def put_frame(self, data: bytes) -> None:
        if self.closing:
            return
        if self.frame is not None:
            self.frames_skipped += 1
        self.frame = data
        self.frames_put += 1
        self._ready.set()

    def close(self, last: Optional[str] = None) -> None:
        """Send `last` (if any) after what is queued, drop the pending frame, then close."""
        if last is not None:
            self.put_control(last)
        self.closing = True
        self.frame = None
        self._ready.set()

    async def get(self) -> Outgoing:
        """The next thing to send: control messages first, then the latest frame; None once closing and empty."""
        while True:
            if self.control:
                return self.control.popleft()
            if self.frame is not None:
                data, self.frame = self.frame, None
                self.sent_times.append(time.monotonic())
                return data
            if self.closing:
                return None
            self._ready.clear()
            await self._ready.wait()

    def fps(self, now: Optional[float] = None) -> float:
        """Frames handed to the socket per second over the last `FPS_WINDOW` seconds."""
        now = time.monotonic() if now is None else now
        recent = [t for t in self.sent_times if now - t <= FPS_WINDOW]
        return len(recent) / FPS_WINDOW if len(recent) > 1 else 0.0


@dataclass(eq=False)
class Player:
    """A player: their game and where it stands. `outbox` is None while they are disconnected."""

    number: int
    resume: str
    game: PlayerGame
    record_dir: Optional[Path]
    limiter: RateLimiter
    joined: float = field(default_factory=time.monotonic)
    last_input: float = field(default_factory=time.monotonic)
    outbox: Optional[Outbox] = None
    disconnected_at: Optional[float] = None
    seq: int = 0
    frames: int = 0  # frames made for this player
    last_error_at: float = -1e9
    pending: collections.deque[Any] = field(
        default_factory=lambda: collections.deque(maxlen=MAX_PENDING_INPUTS)
    )

    def queue(self, inp: Union[Input, object]) -> None:
        """An input (or `RELEASE_ALL`) for the game, applied before its next step."""
        self.pending.append(inp)

    def apply_pending(self) -> None:
        """Hand the queued inputs to the game (tick thread, between ticks)."""
        while self.pending:
            inp = self.pending.popleft()
            if inp is RELEASE_ALL:
                self.game.release_all()
            else:
                self.game.handle(inp)
