"""The games of `diamond serve` for a model: one `diamond play` session per player, stepped one after another.

`SessionHost` is the `serve.host.GameHost` over play sessions (`PlaySession`, `CSGOPlaySession`): the module to
re-point at a batched world model. `session_host(args)` loads the model once (the sources of `diamond play`) and
builds each player's session from it; a first session is built and stepped at start, so that a model that does
not load fails before the URL is printed (it is the first player's).
"""

from __future__ import annotations

import argparse
import logging
import threading
import warnings
from pathlib import Path
from typing import Any, Optional

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

log = logging.getLogger(__name__)

CSGO_COMMANDS = (
    Command.RESET,
    Command.SWITCH_CONTROLLER,
    Command.PAUSE,
    Command.STEP,
)  # its other keys: the game's
MOUSE_BUTTONS = {"left": 1, "right": 3}  # pygame's numbers
COMMAND_KEYS = {
    command: name for name, command in PLAY_BINDINGS.items()
}  # the key a session reads for a command


def key_code(name: str) -> Optional[int]:
    """pygame's key code of a key name ('w', 'left ctrl', 'page up'); None for a name pygame does not know."""
    from diamond_wm.play.keymap import pygame

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "pygame.init() has not been called": names map without it
        try:
            return pygame.key.key_code(name)
        except ValueError:
            return None


class SessionGame:
    """One player's play session behind `serve.host.PlayerGame`."""

    def __init__(self, session: Any):
        self.session = session
        self.uses_mouse = bool(getattr(session, "uses_mouse", False))
        commands = CSGO_COMMANDS if self.uses_mouse else tuple(PLAY_BINDINGS.values())
        self.bindings = {name: c for name, c in PLAY_BINDINGS.items() if c in commands}

    def handle(self, inp: Input) -> None:
        s = self.session
        if isinstance(inp, Command):
            name = COMMAND_KEYS.get(inp)
            code = key_code(name) if name is not None and name in self.bindings else None
            if code is not None:
                s.handle_key_down(code)
        elif isinstance(inp, (KeyDown, KeyUp)):
            code = key_code(inp.key)
            if code is not None and inp.key not in self.bindings:
                (s.handle_key_down if isinstance(inp, KeyDown) else s.handle_key_up)(code)
        elif isinstance(inp, MouseMove) and self.uses_mouse:
            s.handle_mouse_motion((inp.dx, inp.dy))
        elif isinstance(inp, MouseButton) and self.uses_mouse:
            s.handle_mouse_button(MOUSE_BUTTONS[inp.button], inp.down)

    def release_all(self) -> None:
        controls = getattr(self.session, "controls", None)
        if controls is not None:
            controls.release_all()
        self.session.pressed.clear()

    def frame(self) -> np.ndarray:
        from diamond_wm.data.frames import to_uint8_frames

        frame = self.session.frame
        img = to_uint8_frames(frame.detach().cpu().float())
        if img.size(0) == 1:
            img = img.expand(3, -1, -1)
        return np.ascontiguousarray(img.permute(1, 2, 0).numpy())

    def header(self) -> list[list[str]]:
        return self.session.header()

    def controls_help(self) -> list[str]:
        lines = [line for line in self.session.controls_help() if not line.strip().startswith("Esc")]
        return [*lines, "", "  h or ? : this help"]

    def stop_recording(self) -> None:
        recorder = self.session.recorder
        if recorder is not None and recorder.num_steps and self.session.frame is not None:
            recorder.finish(self.session.frame)
        self.session.recorder = None

    def close(self) -> None:
        for e in self.session.envs:
            e.env.close()


class SessionHost:
    """`GameHost` over the sessions of `sources` (`serve_sources.Sources`); `first`: a session made already, given
    to the first player. Joins are made one at a time (sessions may share caches on disk)."""

    def __init__(self, sources: Any, first: Optional[Any] = None):
        self.sources = sources
        self.first = first
        self._lock = threading.Lock()

    def join(self, player_seed: int, record_dir: Optional[Path]) -> SessionGame:
        with self._lock:
            session, self.first = self.first or self.sources.make(player_seed), None
        self.sources.record(session, record_dir)
        return SessionGame(session)

    def leave(self, game: SessionGame) -> None:
        try:
            game.stop_recording()
        finally:
            game.close()

    def tick(self, games: list[SessionGame]) -> None:
        for game in games:
            game.session.update()


def session_host(args: argparse.Namespace) -> tuple[SessionHost, str]:
    """(host, what it serves) for the model `args` names (see `diamond serve --help`)."""
    from diamond_wm.cli.serve_sources import load_sources

    sources = load_sources(args)
    first = sources.make(args.seed + 1 if args.seed is not None else 0)  # the first player's seed (SEED + 1)
    sources.warm_up(first)
    first.update()  # the first frame: a model that cannot step fails here, before the URL is printed
    return SessionHost(sources, first), sources.what
