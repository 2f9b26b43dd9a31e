"""The game server: players join, leave, come back; one tick loop steps every player due a frame as one batch.

- The tick loop (`run`) calls `GameHost.tick` in one worker thread with the games of every connected player, at
  most `fps` times a second (one clock for all players: each tick is the largest batch), then encodes their frames
  there and puts each into its player's `Outbox` (latest frame only). The event loop stays free meanwhile.
- `connect` gives a new player a game (`GameHost.join` in another worker thread: a slow join stalls nobody), or
  gives a returning player (their resume id) their game back. Refused when `max_players` games are held.
- A disconnected player's game waits `idle_timeout` seconds for them; a connected player who sends no input for
  `idle_timeout` seconds, or plays longer than `session_limit` seconds, is told why and disconnected, and their
  game ends (`GameHost.leave`, in the tick thread between ticks).
- A tick that raises: each of its players gets a `model_error` message (at most one a second), the loop goes on.
- Recording (`Recording`): each player's episodes in a folder of their own; past the quota, recording stops and
  the players are told.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from diamond_wm.serve import protocol
from diamond_wm.serve.frames import encode_frame
from diamond_wm.serve.host import GameHost
from diamond_wm.serve.players import RELEASE_ALL, Outbox, Player, RateLimiter

log = logging.getLogger(__name__)

HOUSEKEEPING_PERIOD = 0.5  # seconds between checks of idle players, session limits
STATS_LOG_PERIOD = 30.0
ERROR_REPEAT = 1.0  # seconds between two model_error messages to one player
INPUT_RATE, INPUT_BURST = 120.0, 240.0  # inputs per second per player (a key press and release are two)


class Refused(Exception):
    """A connection refused a game: `code` (a protocol error code) and a message for the player."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class Limits:
    """Frame cap (per player), players, idle timeout and session length (seconds; 0: no limit)."""

    fps: float = 15.0
    max_players: int = 4
    idle_timeout: float = 300.0
    session_limit: float = 0.0
    input_rate: float = INPUT_RATE
    input_burst: float = INPUT_BURST

    def __post_init__(self) -> None:
        if not self.fps > 0 or self.max_players < 1 or not self.idle_timeout > 0 or self.session_limit < 0:
            raise ValueError(
                f"fps {self.fps}, max players {self.max_players}, idle timeout {self.idle_timeout}, session limit "
                f"{self.session_limit}: expected fps > 0, max players >= 1, idle timeout > 0, session limit >= 0"
            )


@dataclass
class Recording:
    """Each player's episodes go to `directory/<start time>_player<n>/`; recording stops past `max_bytes`, which is
    checked every `check_every` seconds."""

    directory: Path
    max_bytes: Optional[float] = None
    check_every: float = 5.0


def folder_bytes(path: Path) -> int:
    """Total size of the files under `path`."""
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            with contextlib.suppress(OSError):  # removed meanwhile
                total += os.stat(os.path.join(root, name)).st_size
    return total


def set_torch_threads(threads: Optional[int]) -> None:
    """torch's CPU thread count from now on, set in the calling thread; None: as it is. Set before compiling: a
    compiled graph is specialised to torch's thread count (a Dynamo guard)."""
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


class GameServer:
    """Players and the tick loop (see the module docstring); every method runs on the event loop."""

    def __init__(
        self,
        host: GameHost,
        limits: Limits,
        recording: Optional[Recording] = None,
        seed: Optional[int] = None,
    ):
        self.host = host
        self.limits = limits
        self.recording = recording
        self.recording_stopped = False
        self.seed = seed if seed is not None else secrets.randbelow(2**31)
        self.players: dict[str, Player] = {}  # by resume id
        self.joining = 0
        self.numbers = 0
        self.started = time.strftime("%Y%m%d-%H%M%S")
        self.ticks = self.model_errors = 0
        self.last_tick_s = self.tick_s_sum = 0.0
        self.last_batch = self.batch_sum = 0
        # The tick thread runs the host's computation: the host's own (`SessionHost.executor`, where its model was
        # loaded and compiled), else one with the host's CPU thread count, if it has one (see
        # `SessionHost.tick_threads`). Joins run on threads of their own, with one torch thread each when the
        # host counts CPU threads: a second multi-threaded OpenMP team in the process would make every team's
        # threads sleep between parallel regions instead of spinning (libgomp does so when it manages more
        # threads than there are cores), which halved the tick's speed on 2 cores.
        threads = getattr(host, "tick_threads", None)
        self._own_tick_pool = getattr(host, "executor", None) is None
        self._tick_pool = getattr(host, "executor", None) or concurrent.futures.ThreadPoolExecutor(
            1, thread_name_prefix="diamond-tick", initializer=set_torch_threads, initargs=(threads,)
        )
        self._join_pool = concurrent.futures.ThreadPoolExecutor(
            4, thread_name_prefix="diamond-join", initializer=set_torch_threads, initargs=(threads and 1,)
        )
        self._wake = asyncio.Event()
        self._stopping = False
        self._leaving: set[asyncio.Future] = set()
        self._closing: list[Outbox] = []  # connections told why they end, until they are closed

    # ------------------------------------------------------------------ players

    async def connect(self, outbox: Outbox, resume: Optional[str]) -> tuple[Player, bool]:
        """The player of a new connection and whether their game was given back; Refused when full or when the
        game cannot be made."""
        player = self.players.get(resume) if resume else None
        if player is not None:
            if player.outbox is not None:
                player.outbox.close(protocol.bye(protocol.REPLACED, "this game was opened in another tab"))
            player.outbox, player.disconnected_at = outbox, None
            player.last_input = time.monotonic()
            self._wake.set()
            log.info("player %d came back (%d players)", player.number, len(self.players))
            return player, True
        if len(self.players) + self.joining >= self.limits.max_players:
            raise Refused(protocol.FULL, f"the server is full ({self.limits.max_players} players): try later")
        self.joining += 1
        self.numbers += 1
        number = self.numbers
        record_dir = None
        if self.recording is not None and not self.recording_stopped:
            record_dir = self.recording.directory / f"{self.started}_player{number}"
        try:
            game = await asyncio.get_running_loop().run_in_executor(
                self._join_pool, self.host.join, self.seed + number, record_dir
            )
        except Exception as e:
            log.exception("player %d: the game could not be made", number)
            raise Refused(protocol.JOIN_FAILED, f"the game could not be made: {e}") from e
        finally:
            self.joining -= 1
        if self._stopping:
            self._leave_game(game)
            raise Refused(protocol.SHUTDOWN, "the server is stopping")
        limiter = RateLimiter(self.limits.input_rate, self.limits.input_burst)
        player = Player(number, secrets.token_urlsafe(16), game, record_dir, limiter, outbox=outbox)
        self.players[player.resume] = player
        self._wake.set()
        log.info("player %d joined (%d players)", number, len(self.players))
        return player, False

    def disconnected(self, player: Player, outbox: Outbox) -> None:
        """The connection of `outbox` ended; the game waits `idle_timeout` seconds for its player."""
        outbox.close()
        if player.outbox is outbox:
            player.outbox, player.disconnected_at = None, time.monotonic()
            player.queue(RELEASE_ALL)
            if player.resume in self.players:
                log.info("player %d disconnected", player.number)

    def input(self, player: Player, inp: Any) -> None:
        """Queue an input (an `Input`, or `RELEASE_ALL`) for the player's next step (the connection has checked
        the player's input rate, `player.limiter`)."""
        player.last_input = time.monotonic()
        player.queue(inp)

    def end(self, player: Player, code: str, message: str) -> None:
        """End a player's game and tell them why (the connection closes)."""
        if self.players.pop(player.resume, None) is None:
            return
        if player.outbox is not None:
            player.outbox.close(protocol.bye(code, message))
            self._closing = [box for box in self._closing if not box.closed] + [player.outbox]
        log.info("player %d left (%s; %d players)", player.number, code, len(self.players))
        self._leave_game(player.game)

    def _leave_game(self, game: Any) -> None:
        try:
            future = asyncio.get_running_loop().run_in_executor(self._tick_pool, self._leave_quietly, game)
        except RuntimeError:  # the tick thread is gone (stopped): no tick can run any more
            self._leave_quietly(game)
            return
        self._leaving.add(future)
        future.add_done_callback(self._leaving.discard)

    def _leave_quietly(self, game: Any) -> None:
        try:
            self.host.leave(game)
        except Exception:
            log.exception("a game did not end cleanly")

    # ------------------------------------------------------------------ the tick loop

    async def run(self) -> None:
        """Tick until `stop`."""
        loop = asyncio.get_running_loop()
        next_housekeeping = next_quota = time.monotonic()
        next_stats = time.monotonic() + STATS_LOG_PERIOD
        next_tick = 0.0
        while not self._stopping:
            now = time.monotonic()
            if now >= next_housekeeping:
                self._housekeeping(now)
                next_housekeeping = now + HOUSEKEEPING_PERIOD
            if now >= next_quota and self.recording is not None and self.recording.max_bytes is not None:
                next_quota = now + self.recording.check_every
                await self._check_quota(loop)
            if now >= next_stats:
                next_stats = now + STATS_LOG_PERIOD
                self._log_stats()
            due = [p for p in self.players.values() if p.outbox is not None]
            if not due or now < next_tick:
                wait = next_tick - now if due else HOUSEKEEPING_PERIOD
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), min(max(wait, 0.001), HOUSEKEEPING_PERIOD))
                continue
            next_tick = max(next_tick + 1.0 / self.limits.fps, now)  # one clock for all: the largest batches
            try:
                frames = await loop.run_in_executor(self._tick_pool, self._tick, due)
            except Exception as e:
                self._model_error(due, e)
                continue
            for player, data in frames:
                if player.outbox is not None:
                    player.outbox.put_frame(data)

    def _tick(self, due: list[Player]) -> list[tuple[Player, bytes]]:
        """One tick, in the tick thread: queued inputs, `GameHost.tick`, the frames encoded."""
        for p in due:
            p.apply_pending()
        start, started_at = time.perf_counter(), time.time()
        self.host.tick([p.game for p in due])
        elapsed = time.perf_counter() - start
        self.ticks += 1
        self.last_tick_s, self.last_batch = elapsed, len(due)
        self.tick_s_sum += elapsed
        self.batch_sum += len(due)
        out = []
        for p in due:
            mime, image = encode_frame(p.game.frame())
            p.seq += 1
            p.frames += 1
            out.append((p, protocol.frame_message(p.seq, mime, p.game.header(), image, started_at)))
        return out

    def _model_error(self, due: list[Player], error: Exception) -> None:
        self.model_errors += 1
        text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        log.error("a tick of %d games failed: %s", len(due), text, exc_info=error)
        now = time.monotonic()
        for p in due:
            if p.outbox is not None and now - p.last_error_at >= ERROR_REPEAT:
                p.last_error_at = now
                p.outbox.put_control(protocol.error(protocol.MODEL_ERROR, text))

    def _housekeeping(self, now: float) -> None:
        limits = self.limits
        for p in list(self.players.values()):
            if limits.session_limit and now - p.joined > limits.session_limit:
                self.end(p, protocol.SESSION_LIMIT, f"session limit reached ({limits.session_limit:g} s)")
            elif p.outbox is None and p.disconnected_at is not None:
                if now - p.disconnected_at > limits.idle_timeout:
                    self.end(p, protocol.IDLE_TIMEOUT, "gone longer than the idle timeout")
            elif now - p.last_input > limits.idle_timeout:
                self.end(p, protocol.IDLE_TIMEOUT, f"no input for {limits.idle_timeout:g} s (idle timeout)")

    async def _check_quota(self, loop: asyncio.AbstractEventLoop) -> None:
        assert self.recording is not None and self.recording.max_bytes is not None
        if self.recording_stopped:
            return
        size = await loop.run_in_executor(None, folder_bytes, self.recording.directory)
        if size < self.recording.max_bytes:
            return
        self.recording_stopped = True
        gb = self.recording.max_bytes / 1e9
        message = f"recording stopped: {self.recording.directory} reached the quota of {gb:g} GB"
        log.warning(message)
        for p in self.players.values():
            loop.run_in_executor(self._tick_pool, p.game.stop_recording)
            if p.outbox is not None:
                p.outbox.put_control(protocol.notice(message))

    # ------------------------------------------------------------------ stats, stop

    def stats(self) -> dict[str, Any]:
        """Players, tick time (ms), batch size and each player's frame rate (what `/stats` answers)."""
        now = time.monotonic()
        ticks = max(1, self.ticks)
        return {
            "players": len(self.players),
            "connected": sum(p.outbox is not None for p in self.players.values()),
            "max_players": self.limits.max_players,
            "fps_cap": self.limits.fps,
            "ticks": self.ticks,
            "model_errors": self.model_errors,
            "tick_ms": {"last": self.last_tick_s * 1e3, "mean": self.tick_s_sum / ticks * 1e3},
            "batch_size": {"last": self.last_batch, "mean": self.batch_sum / ticks},
            "recording": None if self.recording is None else not self.recording_stopped,
            "per_player": [
                {
                    "player": p.number,
                    "connected": p.outbox is not None,
                    "fps": p.outbox.fps(now) if p.outbox is not None else 0.0,
                    "frames": p.frames,
                    "frames_skipped": p.outbox.frames_skipped if p.outbox is not None else 0,
                    "seconds": now - p.joined,
                }
                for p in self.players.values()
            ],
        }

    def _log_stats(self) -> None:
        s = self.stats()
        fps = ", ".join(f"{p['fps']:.1f}" for p in s["per_player"] if p["connected"]) or "-"
        log.info(
            "%d players (%d connected), tick %.1f ms (mean %.1f), batch %d (mean %.2f), fps per player: %s",
            s["players"],
            s["connected"],
            s["tick_ms"]["last"],
            s["tick_ms"]["mean"],
            s["batch_size"]["last"],
            s["batch_size"]["mean"],
            fps,
        )

    async def stop(self, drain: float = 2.0) -> None:
        """Stop ticking, tell every player, end every game (recordings stored) and wait for them to end, then up
        to `drain` seconds for the players' connections to take their last message. Calls after the first wait
        for nothing."""
        if self._stopping:
            return
        self._stopping = True
        self._wake.set()
        for p in list(self.players.values()):
            self.end(p, protocol.SHUTDOWN, "the server stopped")
        if self._leaving:
            await asyncio.gather(*list(self._leaving), return_exceptions=True)
        if self._own_tick_pool:
            self._tick_pool.shutdown(wait=True)
        else:  # the host's thread: no tick or leave may be running or queued when `stop` returns
            await asyncio.get_running_loop().run_in_executor(self._tick_pool, lambda: None)
        self._join_pool.shutdown(wait=False)
        deadline = time.monotonic() + drain
        while any(not box.closed for box in self._closing) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
