"""What the server asks of the games it serves: `GameHost` makes one `PlayerGame` per player and steps them.

The server calls `GameHost.join` and `GameHost.leave` from worker threads and `GameHost.tick` from one tick thread:
`join` may run while `tick` steps other games; `leave(game)` is never called while a tick includes `game`, nor
twice for one game. Inputs (`PlayerGame.handle`, `release_all`), reads (`frame`, `header`) and `stop_recording` of
a game happen in the tick thread, between ticks, never during one; `uses_mouse`, `bindings` and `controls_help` are read once,
on the event loop, when the player connects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Protocol

import numpy as np

from diamond_wm.interactive.commands import Command, Input


class PlayerGame(Protocol):
    """One player's game.

    `uses_mouse`: the page locks the pointer on a click and sends relative motion and buttons (CS:GO).
    `bindings`: key name -> the command the page sends for that key (e.g. `commands.PLAY_BINDINGS`); the page sends
    every other key as a game key (`KeyDown`, `KeyUp`).
    """

    uses_mouse: bool
    bindings: dict[str, Command]

    def handle(self, inp: Input) -> None:
        """Apply one input (a command, a key or mouse event); inputs a game has no use for are ignored."""

    def release_all(self) -> None:
        """Forget every held key and button (the page lost focus)."""

    def frame(self) -> np.ndarray:
        """The frame to show now: (H, W, 3) uint8, the same shape every call."""

    def header(self) -> list[list[str]]:
        """Columns of header lines shown above the frame."""

    def controls_help(self) -> list[str]:
        """Lines of help on the controls."""

    def stop_recording(self) -> None:
        """Stop recording (store the episode being played as it is); a no-op when not recording."""


class GameHost(Protocol):
    """Makes, steps and ends the games of the players."""

    def join(self, player_seed: int, record_dir: Optional[Path]) -> PlayerGame:
        """A new game for a player, seeded with `player_seed`; `record_dir`: where its finished episodes go (a
        folder of its own), or None (not recorded)."""

    def leave(self, game: PlayerGame) -> None:
        """End a game: its recording stored (the episode being played kept as truncated), its resources freed."""

    def tick(self, games: list[PlayerGame]) -> None:
        """Step every listed game once, as one batch. May raise (a model error): then none of the listed games
        is guaranteed to have stepped, and the server tells their players."""
