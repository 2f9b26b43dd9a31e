"""A tiny deterministic game behind the `GameHost` interface (numpy only): the server's tests, and
`diamond serve --test-game` (the server and the network checked without a model).

A square of 8 x 8 pixels moves by one pixel per step in the direction of the held keys w a s d; the
background's colour is a function of the held keys; the top row of pixels counts the steps (bits).
The mouse moves the square too (one pixel per 10 pixels of motion). With `noise`, random low bits make every frame
incompressible (network tests). Commands: reset, pause, step (while paused).
Episodes last `EPISODE_LENGTH` steps; recorded ones go to `<record_dir>/episode_<k>.npz` (frames, actions).
"""

from __future__ import annotations

import threading
import time
import zlib
from pathlib import Path
from typing import Optional

import numpy as np

from diamond_wm.interactive.commands import (
    PLAY_BINDINGS,
    Command,
    Input,
    KeyDown,
    KeyUp,
    MouseButton,
    MouseMove,
)

EPISODE_LENGTH = 100
SQUARE = 8
MOVES = {"w": (-1, 0), "s": (1, 0), "a": (0, -1), "d": (0, 1)}


class FakeGame:
    """One player's game (see the module docstring); `size` is (height, width)."""

    def __init__(
        self,
        seed: int,
        size: tuple[int, int] = (64, 64),
        record_dir: Optional[Path] = None,
        noise: bool = False,
    ):
        self.height, self.width = size
        if self.height < SQUARE or self.width < SQUARE:
            raise ValueError(f"test game size {size}: expected at least {SQUARE} x {SQUARE} pixels")
        self.seed = seed
        self.noise = noise
        self.uses_mouse = True
        self.bindings = dict(PLAY_BINDINGS)
        self.record_dir = record_dir
        self.pressed: set[str] = set()
        self.buttons: set[str] = set()
        self.mouse = [0.0, 0.0]
        self.paused = False
        self._step_once = False
        self.episodes_recorded = 0
        self.steps = 0  # steps taken, all episodes
        self._reset()

    def _reset(self) -> None:
        rng = np.random.default_rng(self.seed)
        self.y = int(rng.integers(0, self.height - SQUARE + 1))
        self.x = int(rng.integers(0, self.width - SQUARE + 1))
        self.t = 0
        self.last_action = "-"
        self._frames: list[np.ndarray] = []
        self._actions: list[str] = []

    def handle(self, inp: Input) -> None:
        if inp == Command.RESET:
            self._store()
            self._reset()
        elif inp == Command.PAUSE:
            self.paused = not self.paused
        elif inp == Command.STEP:
            self._step_once = True
        elif isinstance(inp, KeyDown):
            self.pressed.add(inp.key)
        elif isinstance(inp, KeyUp):
            self.pressed.discard(inp.key)
        elif isinstance(inp, MouseMove):
            self.mouse[0] += inp.dx
            self.mouse[1] += inp.dy
        elif isinstance(inp, MouseButton):
            (self.buttons.add if inp.down else self.buttons.discard)(inp.button)

    def release_all(self) -> None:
        self.pressed.clear()
        self.buttons.clear()
        self.mouse = [0.0, 0.0]

    def step(self) -> None:
        """One step (none while paused, unless asked for one)."""
        if self.paused and not self._step_once:
            return
        self._step_once = False
        held = sorted(self.pressed | {f"mouse {b}" for b in self.buttons})
        self.last_action = " + ".join(held) or "NOOP"
        dy = sum(MOVES[k][0] for k in self.pressed if k in MOVES) + int(self.mouse[1] / 10)
        dx = sum(MOVES[k][1] for k in self.pressed if k in MOVES) + int(self.mouse[0] / 10)
        self.mouse = [0.0, 0.0]
        self.y = min(max(self.y + dy, 0), self.height - SQUARE)
        self.x = min(max(self.x + dx, 0), self.width - SQUARE)
        self.t += 1
        self.steps += 1
        if self.record_dir is not None:
            self._frames.append(self.frame())
            self._actions.append(self.last_action)
        if self.t >= EPISODE_LENGTH:
            self._store()
            self._reset()

    def frame(self) -> np.ndarray:
        colour = (
            zlib.crc32(" ".join(sorted(self.pressed | self.buttons)).encode())
            if self.pressed or self.buttons
            else 0
        )
        img = np.empty((self.height, self.width, 3), np.uint8)
        img[:] = (colour & 0x7F, (colour >> 8) & 0x7F, (colour >> 16) & 0x7F)
        img[self.y : self.y + SQUARE, self.x : self.x + SQUARE] = 255
        bits = [(self.t >> i) & 1 for i in range(min(16, self.width))]
        img[0, : len(bits)] = np.array(bits, np.uint8)[:, None] * 255
        if self.noise:  # incompressible frames (network tests): the low 6 bits random, new each step
            img[1:] |= np.random.default_rng((self.seed, self.steps)).integers(0, 64, img[1:].shape, np.uint8)
        return img

    def header(self) -> list[list[str]]:
        status = "PAUSED" if self.paused else ("REC" if self.record_dir is not None else "")
        return [
            ["Env     : test game", "Control : human", f"Timestep: {self.t}"],
            [f"Action : {self.last_action}", f"Square : {self.x}, {self.y}", status],
        ]

    def controls_help(self) -> list[str]:
        return [
            "Controls (test game):",
            "  Enter   : reset",
            "  .       : pause / resume",
            "  e       : one step (while paused)",
            "  w a s d : move the square",
            "  mouse   : move the square (click the picture first)",
        ]

    def stop_recording(self) -> None:
        self._store()
        self.record_dir = None

    def _store(self) -> None:
        if self.record_dir is None or not self._frames:
            return
        self.record_dir.mkdir(parents=True, exist_ok=True)
        path = self.record_dir / f"episode_{self.episodes_recorded}.npz"
        np.savez(path, frames=np.stack(self._frames), actions=np.array(self._actions))
        self.episodes_recorded += 1
        self._frames, self._actions = [], []


class FakeHost:
    """Hosts `FakeGame`s of `size` (height, width), with `noise` or not. Test hooks: `tick_delay` and `join_delay`
    seconds of sleep per tick and per join (a slow model), `fail_ticks` (the next ticks raise RuntimeError while
    > 0); `ticks` and `batch_sizes` count calls."""

    def __init__(self, size: tuple[int, int] = (64, 64), tick_delay: float = 0.0, noise: bool = False):
        self.size = size
        self.noise = noise
        self.tick_delay = tick_delay
        self.join_delay = 0.0
        self.fail_ticks = 0
        self.ticks = 0
        self.batch_sizes: list[int] = []
        self.games: list[FakeGame] = []
        self.left: list[FakeGame] = []
        self._lock = threading.Lock()

    def join(self, player_seed: int, record_dir: Optional[Path]) -> FakeGame:
        time.sleep(self.join_delay)
        game = FakeGame(player_seed, self.size, record_dir, self.noise)
        with self._lock:
            self.games.append(game)
        return game

    def leave(self, game: FakeGame) -> None:
        game.stop_recording()
        with self._lock:
            self.games.remove(game)
            self.left.append(game)

    def tick(self, games: list[FakeGame]) -> None:
        self.ticks += 1
        self.batch_sizes.append(len(games))
        if self.tick_delay:
            time.sleep(self.tick_delay)
        if self.fail_ticks > 0:
            self.fail_ticks -= 1
            raise RuntimeError("test game: a model error")
        for g in games:
            g.step()
