"""The games of `diamond serve` for a model: one interactive play session per player (`interactive.PlaySession`,
`CSGOPlaySession`); each tick steps the world models of its sessions as one batch (`interactive.batch`).

`SessionHost` is the `host.GameHost` over such sessions, made by a `make(seed)` the command line builds from the
model it loaded once (`cli/serve_sources.py`); `SessionHost.tick` is the one place that steps them.
"""

from __future__ import annotations

import concurrent.futures
import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np

from diamond_wm.interactive.batch import update_together
from diamond_wm.interactive.commands import Input

PAGE_KEYS = [("h or ?", "this help")]  # the page's own keys, listed first in the help
MOUSE_KEYS = [("click", "the mouse plays (Esc gives it back)")]


class SessionGame:
    """One player's interactive session behind `host.PlayerGame`."""

    def __init__(self, session: Any):
        self.session = session
        self.uses_mouse = bool(session.uses_mouse)
        self.bindings = dict(session.bindings)

    def handle(self, inp: Input) -> None:
        self.session.handle(inp)

    def release_all(self) -> None:
        self.session.release_all()

    def frame(self) -> np.ndarray:
        from diamond_wm.data.frames import to_uint8_frames

        img = to_uint8_frames(self.session.frame.detach().cpu().float())
        if img.size(0) == 1:
            img = img.expand(3, -1, -1)
        return np.ascontiguousarray(img.permute(1, 2, 0).numpy())

    def header(self) -> list[list[str]]:
        return self.session.header()

    def controls_help(self) -> list[str]:
        return self.session.controls_help(PAGE_KEYS + (MOUSE_KEYS if self.uses_mouse else []))

    def stop_recording(self) -> None:
        recorder = self.session.recorder
        if recorder is not None and recorder.num_steps and self.session.frame is not None:
            recorder.finish(self.session.frame)
        self.session.recorder = None

    def close(self) -> None:
        for e in self.session.envs:
            e.env.close()


def record_to(session: Any, folder: Optional[Path], action_spec: Any) -> None:
    """Record `session`'s finished episodes under `folder` as `diamond play -r` does under its run folder
    (`folder/dataset/rec_<env>_<controller>/`); None: not recorded."""
    if folder is not None:
        from diamond_wm.interactive.recording import EpisodeRecorder

        session.recorder = EpisodeRecorder(folder, action_spec=action_spec)


class TorchThread(concurrent.futures.Executor):
    """The one thread that runs a served model's multi-threaded torch work: loading, compiling, warming up, then
    every tick (`SessionHost.executor`). Graphs compiled on it are compiled for its torch thread count, which its
    ticks keep (a compiled graph recompiles when the count changes), and it is the process's only OpenMP team
    of several threads (see `server.GameServer`). A daemon thread: Ctrl-C during a long compile ends the
    process without waiting for the compile."""

    def __init__(self) -> None:
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._shut = False
        self._thread = threading.Thread(target=self._run, name="diamond-tick", daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        if self._shut:
            raise RuntimeError("cannot schedule new work after shutdown")
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._work.put((future, fn, args, kwargs))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._shut = True
        self._work.put(None)
        if wait:
            self._thread.join()

    def _run(self) -> None:
        while (item := self._work.get()) is not None:
            future, fn, args, kwargs = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as e:  # handed to the caller
                future.set_exception(e)


class SessionHost:
    """`host.GameHost` over the sessions `make(seed)` builds, recording with `action_spec`; `first`: a session made
    already, given to the first player; `buckets`: the batch sizes a compiled world model was warmed up for (each
    tick's batch is padded to one of them); `tick_threads`: torch's CPU threads for the ticks; `executor`: the
    thread the model was prepared on (`TorchThread`), which then ticks (None: the server makes one). Sessions are
    made one at a time (they may share caches on disk)."""

    def __init__(
        self,
        make: Callable[[int], Any],
        action_spec: Any,
        first: Optional[Any] = None,
        buckets: tuple[int, ...] = (),
        tick_threads: Optional[int] = None,
        executor: Optional[concurrent.futures.ThreadPoolExecutor] = None,
    ):
        self.tick_threads = tick_threads  # torch CPU threads of the server's tick thread (None: torch's own)
        self.executor = executor
        self.make = make
        self.action_spec = action_spec
        self.first = first
        self.buckets = buckets  # batch sizes of a compiled world model (`interactive.batch.batch_buckets`)
        self._lock = threading.Lock()

    def join(self, player_seed: int, record_dir: Optional[Path]) -> SessionGame:
        with self._lock:
            session, self.first = self.first or self.make(player_seed), None
        record_to(session, record_dir, self.action_spec)
        return SessionGame(session)

    def leave(self, game: SessionGame) -> None:
        try:
            game.stop_recording()
        finally:
            game.close()

    def tick(self, games: list[SessionGame]) -> None:
        update_together([game.session for game in games], self.buckets)
