"""What a player can ask of a play session, independent of the front end that reads the input.

Two kinds of input:

- **Commands** (`Command`): reset, switch controller, pause, step once, horizon +/-, next/previous environment, and
  the dataset browser's moves. A front end binds them to its own keys: each session's `bindings` are the keys
  `diamond play` uses for it (`PLAY_BINDINGS`, `CSGO_PLAY_BINDINGS`, `BROWSE_BINDINGS`); a key not bound is a game
  key. A session ignores the commands it does not take (those missing from its `bindings`).
- **Game input**: game keys pressed and released by name (`KeyDown("w")`, `KeyUp("space")`), relative mouse
  motion (`MouseMove(dx, dy)`, pixels, y growing downwards) and mouse buttons (`MouseButton("left", True)`).
  Key names are pygame's (`pygame.key.name`): letters and digits as themselves, "space", "left ctrl",
  "left shift", "up", "down", "left", "right", "return", "page up", "page down", "."; the browser page maps
  `KeyboardEvent.code` to the same names.

An `Input` is any of these; `parse_input` reads one from a plain dict (what the web server receives), refusing
anything else with a message that names the bad value and what would be accepted. `key_input` turns a front end's
key press or release into the input a session with given bindings takes; `bindings_help` writes the help lines of
bound keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Optional, Union


class Command(str, Enum):
    """A play or browse command; the value is its wire name."""

    RESET = "reset"
    SWITCH_CONTROLLER = "switch_controller"
    PAUSE = "pause"
    STEP = "step"
    HORIZON_UP = "horizon_up"
    HORIZON_DOWN = "horizon_down"
    NEXT_ENV = "next_env"
    PREV_ENV = "prev_env"
    # dataset browser
    NEXT_DATASET = "next_dataset"
    NEXT_EPISODE = "next_episode"
    PREV_EPISODE = "prev_episode"
    NEXT_STEP = "next_step"
    PREV_STEP = "prev_step"
    FORWARD_10 = "forward_10"
    BACK_10 = "back_10"
    FIRST_STEP = "first_step"


# Play mode: key name -> command (`diamond play`'s keys; the browser page uses the same).
PLAY_BINDINGS: dict[str, Command] = {
    "return": Command.RESET,
    "m": Command.SWITCH_CONTROLLER,
    "up": Command.HORIZON_UP,
    "down": Command.HORIZON_DOWN,
    "right": Command.NEXT_ENV,
    "left": Command.PREV_ENV,
    ".": Command.PAUSE,
    "e": Command.STEP,
}

# Play mode of the CS:GO world model: the arrow keys turn the camera there (they are game keys), so the horizon and
# environment commands have no key (and the session does not take them).
CSGO_PLAY_BINDINGS: dict[str, Command] = {
    key: command
    for key, command in PLAY_BINDINGS.items()
    if command in (Command.RESET, Command.SWITCH_CONTROLLER, Command.PAUSE, Command.STEP)
}

# Dataset mode (`diamond play -d`): key name -> command.
BROWSE_BINDINGS: dict[str, Command] = {
    "m": Command.NEXT_DATASET,
    "right": Command.NEXT_EPISODE,
    "left": Command.PREV_EPISODE,
    "up": Command.NEXT_STEP,
    "down": Command.PREV_STEP,
    "page up": Command.FORWARD_10,
    "page down": Command.BACK_10,
    "return": Command.FIRST_STEP,
}

MOUSE_BUTTONS = ("left", "right")
MAX_KEY_NAME = 32  # characters
MAX_MOUSE_MOTION = 10_000.0  # pixels in one message


@dataclass(frozen=True)
class KeyDown:
    """A game key pressed (held until `KeyUp`)."""

    key: str


@dataclass(frozen=True)
class KeyUp:
    """A game key released."""

    key: str


@dataclass(frozen=True)
class MouseMove:
    """Relative mouse motion in pixels since the last one (y grows downwards)."""

    dx: float
    dy: float


@dataclass(frozen=True)
class MouseButton:
    """A mouse button ("left" or "right") pressed (down=True) or released."""

    button: str
    down: bool


Input = Union[Command, KeyDown, KeyUp, MouseMove, MouseButton]


class InputError(ValueError):
    """A message that is not a valid input; the text says what was wrong and what is accepted."""


def _key_name(value: Any) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_KEY_NAME or not value.isprintable():
        raise InputError(f"key {value!r}: expected a key name of 1 to {MAX_KEY_NAME} printable characters")
    return value


def _finite(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InputError(f"{what} {value!r}: expected a finite number")
    if abs(value) > MAX_MOUSE_MOTION:
        raise InputError(f"{what} {value!r}: expected at most {MAX_MOUSE_MOTION:g} pixels in one message")
    return float(value)


def parse_input(message: Any) -> Input:
    """One input from its dict form: {"command": NAME}, {"key_down": NAME}, {"key_up": NAME},
    {"mouse_move": [dx, dy]}, {"mouse_button": "left"|"right", "down": bool}. Exactly one of these fields (and
    "down" with "mouse_button" only)."""
    if not isinstance(message, dict):
        raise InputError(f"input {type(message).__name__}: expected an object")
    kinds = [k for k in ("command", "key_down", "key_up", "mouse_move", "mouse_button") if k in message]
    allowed = set(kinds) | ({"down"} if kinds == ["mouse_button"] else set())
    extra = sorted(set(message) - allowed)
    if len(kinds) != 1 or extra:
        raise InputError(
            f"input with fields {sorted(message)}: expected exactly one of command, key_down, key_up, "
            "mouse_move, mouse_button (with down)"
        )
    kind, value = kinds[0], message[kinds[0]]
    if kind == "command":
        try:
            return Command(value)
        except ValueError:
            names = ", ".join(c.value for c in Command)
            raise InputError(f"command {value!r}: expected one of {names}") from None
    if kind == "key_down":
        return KeyDown(_key_name(value))
    if kind == "key_up":
        return KeyUp(_key_name(value))
    if kind == "mouse_move":
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            raise InputError(f"mouse_move {value!r}: expected [dx, dy]")
        return MouseMove(_finite(value[0], "mouse dx"), _finite(value[1], "mouse dy"))
    if value not in MOUSE_BUTTONS or not isinstance(message.get("down"), bool):
        raise InputError(
            f"mouse_button {value!r} down={message.get('down')!r}: expected 'left' or 'right' and down true/false"
        )
    return MouseButton(value, message["down"])


def key_input(key: str, down: bool, bindings: Mapping[str, Command]) -> Optional[Input]:
    """What a key press or release of a front end sends to a session with these `bindings`: the bound command
    when pressed (a release of a bound key sends nothing), else the game key's `KeyDown` / `KeyUp`."""
    if key in bindings:
        return bindings[key] if down else None
    return KeyDown(key) if down else KeyUp(key)


def bindings_help(
    bindings: Mapping[str, Command],
    descriptions: Sequence[tuple[Command, str]],
    extra: Sequence[tuple[str, str]] = (),
) -> list[str]:
    """Help lines '  key : what it does': first the front end's own keys (`extra`: (key name, what)), then the key
    of each command of `descriptions` in their order (commands without a key in `bindings` are left out)."""
    keys = {command: key for key, command in bindings.items()}
    rows = list(extra) + [(keys[c], what) for c, what in descriptions if c in keys]
    width = max([5, *(len(key) for key, _ in rows)])
    return [f"  {key:<{width}} : {what}" for key, what in rows]
