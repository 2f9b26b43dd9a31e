"""What every interactive session offers a front end (the pygame window of `diamond play`, the web server):
`PlaySession`, `CSGOPlaySession` and `DatasetBrowser` all have it.

A front end sends inputs (`commands.py`) to `handle` as they come, calls `update()` once per frame it shows, then
shows `frame` (or `error` when there is no frame) under the columns of `header()`. `bindings` says which of its
keys are commands (the rest are game keys: `commands.key_input`), `controls_help()` lists them for the player.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Optional, Protocol

import torch

from diamond_wm.interactive.commands import Command, Input


class InteractiveSession(Protocol):
    """The interface of an interactive session (see the module docstring)."""

    bindings: Mapping[str, Command]  # key name -> the command it sends; the commands the session takes
    uses_mouse: bool  # the session reads mouse motion and buttons (the front end captures the mouse)
    header_lines: int  # the most lines a column of `header()` holds

    @property
    def frame(self) -> Optional[torch.Tensor]:
        """(C, H, W) float in [-1, 1]: what to show now, or None (then `error` says why)."""

    @property
    def error(self) -> Optional[str]:
        """Why there is no frame to show (one line), or None."""

    def handle(self, inp: Input) -> None:
        """Act on one input; commands the session does not take and game input it has no use for are ignored."""

    def release_all(self) -> None:
        """Forget every held key and mouse button (the front end lost the keyboard, e.g. the page lost focus)."""

    def update(self) -> bool:
        """Advance by one frame of the front end; True when the session stepped."""

    def header(self) -> list[list[str]]:
        """Columns of header lines."""

    def controls_help(self) -> list[str]:
        """The keys and what they do, one line each, keys by name."""
