"""CS:GO keyboard and mouse <-> the 51-dim multi-hot action vector of DIAMOND's CS:GO world model.

Layout: 0-10 the keys of `KEY_ORDER`, 11 left click, 12 right click, 13-35 one-hot over `MOUSE_X_BINS`, 36-50
one-hot over `MOUSE_Y_BINS`. Keys are named as pygame names them ('w', 'left ctrl', ...). The arrow keys turn
the camera: they have no slot of their own and override the mouse bin of their axis. Mouse motion is in
pixels of relative motion, y growing downwards (pygame's convention: the up arrow is y = -50).

Encoding (`encode`), as the published keymap does it: keys outside the keymap are ignored; in press order a key
is dropped when its action completes a forbidden combination with the actions already kept (the first pressed
of w/s, a/d, two weapons or two opposite arrows wins); a repeated key stays. The mouse motion is clipped to the
limits and snapped to the nearest bin (a tie goes to the lower bin), then each kept arrow key overrides its axis.

Decoding (`decode`) reads vectors as the published code does, including a network's or a dataset's soft values:
a key is pressed when its value rounds (half to even) to exactly 1, a click when it rounds to nonzero, a mouse
axis is the first argmax of its part; the pressed keys, in slot order, go through the same forbidden filter.
`decode(..., strict=True)` and `check_vector` refuse anything but a well-formed binary vector.

`csgo_action_layout()` gives the layout as plain data (dimension names, groups and which are one-hot), from
which a generic action spec can be built; `pygame_key_names()` maps pygame key codes to the key names.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from diamond_wm.config.actions import ActionGroup as SpecGroup
from diamond_wm.config.actions import ActionSpec

ACTION_SIZE = 51
KEY_ORDER = ("w", "a", "s", "d", "space", "left ctrl", "left shift", "1", "2", "3", "r")
ARROW_KEYS = ("up", "right", "left", "down")
KEY_ACTIONS = {  # key -> the published action name
    "w": "up",
    "d": "right",
    "a": "left",
    "s": "down",
    "space": "jump",
    "left ctrl": "crouch",
    "left shift": "walk",
    "1": "weapon1",
    "2": "weapon2",
    "3": "weapon3",
    "r": "reload",
    "up": "camera_up",
    "right": "camera_right",
    "left": "camera_left",
    "down": "camera_down",
}
FORBIDDEN_COMBINATIONS = tuple(
    frozenset(c)
    for c in (
        ("down", "up"),
        ("left", "right"),
        ("weapon1", "weapon2"),
        ("weapon1", "weapon3"),
        ("weapon2", "weapon3"),
        ("camera_down", "camera_up"),
        ("camera_left", "camera_right"),
    )
)
ARROW_OVERRIDES = {
    "left": ("mouse_x", -60),
    "right": ("mouse_x", 60),
    "up": ("mouse_y", -50),
    "down": ("mouse_y", 50),
}


def _symmetric(positive: tuple[int, ...]) -> tuple[int, ...]:
    """Ascending bins -p..., 0, ...p: the mouse bins are finer for small motions, the same on both sides."""
    return tuple(-b for b in reversed(positive)) + (0,) + positive


MOUSE_X_BINS = _symmetric((2, 4, 10, 20, 30, 60, 100, 200, 300, 500, 1000))
MOUSE_Y_BINS = _symmetric((2, 4, 10, 20, 50, 100, 200))
MOUSE_X_LIMITS = (-1000, 1000)
MOUSE_Y_LIMITS = (-200, 200)
L_CLICK, R_CLICK = len(KEY_ORDER), len(KEY_ORDER) + 1  # 11, 12
MOUSE_X_OFFSET = len(KEY_ORDER) + 2  # 13
MOUSE_Y_OFFSET = MOUSE_X_OFFSET + len(MOUSE_X_BINS)  # 36
# pygame constant of each key, resolved only when `pygame_key_names()` is called (pygame is a play-time import)
PYGAME_CONSTANTS = {k: f"K_{k}" for k in ("w", "a", "s", "d", "1", "2", "3", "r")} | {
    "space": "K_SPACE",
    "left ctrl": "K_LCTRL",
    "left shift": "K_LSHIFT",
    **{arrow: f"K_{arrow.upper()}" for arrow in ARROW_KEYS},
}


@dataclass(frozen=True)
class ActionGroup:
    """Dimensions [start, stop) of the vector under one name; `one_hot`: exactly one of them is 1 when encoded."""

    name: str
    start: int
    stop: int
    one_hot: bool

    @property
    def slice(self) -> slice:
        return slice(self.start, self.stop)


@dataclass(frozen=True)
class CSGOActionLayout:
    """The vector's size, the name of every dimension and its groups (keys, clicks, mouse_x, mouse_y)."""

    size: int
    names: tuple[str, ...]
    groups: tuple[ActionGroup, ...]

    def group(self, name: str) -> ActionGroup:
        """The group called `name`; ValueError naming the groups that exist."""
        for g in self.groups:
            if g.name == name:
                return g
        raise ValueError(
            f"no action group {name!r}: expected one of {', '.join(g.name for g in self.groups)}"
        )


@functools.cache
def csgo_action_layout() -> CSGOActionLayout:
    """The 51-dim layout as plain data (what a generic multi-hot action spec is built from)."""
    names = (
        KEY_ORDER
        + ("l_click", "r_click")
        + tuple(f"mouse_x={b}" for b in MOUSE_X_BINS)
        + tuple(f"mouse_y={b}" for b in MOUSE_Y_BINS)
    )
    groups = (
        ActionGroup("keys", 0, L_CLICK, one_hot=False),
        ActionGroup("clicks", L_CLICK, MOUSE_X_OFFSET, one_hot=False),
        ActionGroup("mouse_x", MOUSE_X_OFFSET, MOUSE_Y_OFFSET, one_hot=True),
        ActionGroup("mouse_y", MOUSE_Y_OFFSET, len(names), one_hot=True),
    )
    return CSGOActionLayout(len(names), names, groups)


def csgo_action_spec() -> ActionSpec:
    """The 51-dim multi-hot action spec of the CS:GO world model (its datasets, checkpoints and play)."""
    layout = csgo_action_layout()
    return ActionSpec.multi_hot(
        [SpecGroup(g.name, layout.names[g.slice], one_hot=g.one_hot) for g in layout.groups]
    )


@dataclass(frozen=True)
class CSGOAction:
    """One step's action: the keys kept (press order, arrows and repeats included), clicks, mouse bin values."""

    keys: tuple[str, ...] = ()
    l_click: bool = False
    r_click: bool = False
    mouse_x: int = 0
    mouse_y: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.keys, str):
            raise ValueError(f"keys must be a sequence of key names, got the string {self.keys!r}")
        object.__setattr__(self, "keys", tuple(self.keys))
        for k in self.keys:
            if k not in KEY_ACTIONS:
                raise ValueError(f"unknown CS:GO key {k!r}: expected one of {', '.join(KEY_ACTIONS)}")
        for axis, bins in (("mouse_x", MOUSE_X_BINS), ("mouse_y", MOUSE_Y_BINS)):
            if getattr(self, axis) not in bins:
                raise ValueError(f"{axis} {getattr(self, axis)!r} is not a bin: expected one of {list(bins)}")

    @property
    def mouse_x_bin(self) -> int:
        """Index of `mouse_x` in `MOUSE_X_BINS`."""
        return MOUSE_X_BINS.index(self.mouse_x)

    @property
    def mouse_y_bin(self) -> int:
        """Index of `mouse_y` in `MOUSE_Y_BINS`."""
        return MOUSE_Y_BINS.index(self.mouse_y)

    def hot_indices(self) -> tuple[int, ...]:
        """The vector's entries that are 1, ascending (arrow keys have no entry: they live in the mouse bins)."""
        hot = {KEY_ORDER.index(k) for k in self.keys if k in KEY_ORDER}
        hot |= {i for i, on in ((L_CLICK, self.l_click), (R_CLICK, self.r_click)) if on}
        hot |= {MOUSE_X_OFFSET + self.mouse_x_bin, MOUSE_Y_OFFSET + self.mouse_y_bin}
        return tuple(sorted(hot))

    def to_vector(self) -> torch.Tensor:
        """The multi-hot action vector, float32 (51,)."""
        vec = torch.zeros(ACTION_SIZE, dtype=torch.float32)
        vec[list(self.hot_indices())] = 1.0
        return vec


def keep_allowed_keys(keys: Iterable[str]) -> list[str]:
    """Keys in the keymap, in order, minus each one whose action completes a forbidden combination with those kept."""
    kept: list[str] = []
    actions: set[str] = set()
    for key in keys:
        action = KEY_ACTIONS.get(key)
        if action is None:
            continue
        if any(action in combo and combo <= actions | {action} for combo in FORBIDDEN_COMBINATIONS):
            continue
        kept.append(key)
        actions.add(action)
    return kept


def snap_to_bin(value: float, bins: Sequence[int], limits: tuple[int, int]) -> int:
    """`value` clipped to `limits`, then the nearest of the ascending `bins` (a tie goes to the lower bin)."""
    v = min(max(value, limits[0]), limits[1])
    return bins[min(range(len(bins)), key=lambda i: (abs(v - bins[i]), i))]


def _motion(name: str, value: Any) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} {value!r} is not a number: expected a finite number of pixels") from None
    if not math.isfinite(v):
        raise ValueError(f"{name} {v} is not finite: expected a finite number of pixels")
    return v


def encode(
    keys_pressed: Iterable[str],
    mouse_dx: float = 0.0,
    mouse_dy: float = 0.0,
    l_click: bool = False,
    r_click: bool = False,
) -> CSGOAction:
    """Keys held (in press order, pygame names), relative mouse motion and clicks -> the action the model gets."""
    if isinstance(keys_pressed, str):
        raise ValueError(f"keys_pressed must be a sequence of key names, got the string {keys_pressed!r}")
    keys_pressed = list(keys_pressed)
    for k in keys_pressed:
        if not isinstance(k, str):
            raise ValueError(
                f"keys_pressed holds {k!r} ({type(k).__name__}): expected key names such as 'w' or 'left ctrl' "
                "(pygame_key_names() maps pygame key codes to them)"
            )
    kept = keep_allowed_keys(keys_pressed)
    mouse = {
        "mouse_x": snap_to_bin(_motion("mouse_dx", mouse_dx), MOUSE_X_BINS, MOUSE_X_LIMITS),
        "mouse_y": snap_to_bin(_motion("mouse_dy", mouse_dy), MOUSE_Y_BINS, MOUSE_Y_LIMITS),
    }
    for key in kept:
        if key in ARROW_OVERRIDES:
            axis, value = ARROW_OVERRIDES[key]
            mouse[axis] = value
    return CSGOAction(tuple(kept), bool(l_click), bool(r_click), **mouse)


def _describe(index: int) -> str:
    return f"index {index} ({csgo_action_layout().names[index]})"


def check_vector(vector: Any, *, strict: bool = False) -> list[float]:
    """`vector` as 51 finite floats (`strict`: binary, one hot entry per mouse part); ValueError naming the fault."""
    try:
        if isinstance(vector, torch.Tensor):
            t = vector.detach().to("cpu", torch.float64)
        else:
            t = torch.as_tensor(np.asarray(vector, dtype=np.float64))
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(
            f"CS:GO action vector of type {type(vector).__name__} is not numeric: expected {ACTION_SIZE} numbers"
        ) from None
    if tuple(t.shape) != (ACTION_SIZE,):
        raise ValueError(
            f"CS:GO action vector has shape {tuple(t.shape)}: expected ({ACTION_SIZE},) "
            f"({len(KEY_ORDER)} keys, 2 clicks, {len(MOUSE_X_BINS)} mouse-x bins, {len(MOUSE_Y_BINS)} mouse-y bins)"
        )
    values = t.tolist()
    for i, v in enumerate(values):
        if not math.isfinite(v):
            raise ValueError(f"CS:GO action vector has {v} at {_describe(i)}: expected finite numbers")
    if strict:
        for i, v in enumerate(values):
            if v not in (0.0, 1.0):
                raise ValueError(
                    f"CS:GO action vector has {v:g} at {_describe(i)}: expected 0 or 1 (strict decoding)"
                )
        for g in (g for g in csgo_action_layout().groups if g.one_hot):
            hot = [i for i in range(g.start, g.stop) if values[i] == 1.0]
            if len(hot) != 1:
                found = f"hot entries at {', '.join(_describe(i) for i in hot)}" if hot else "no hot entry"
                raise ValueError(
                    f"CS:GO action vector has {found} in one-hot group {g.name}: expected exactly one"
                )
    return values


def _first_argmax(values: Sequence[float]) -> int:
    return max(range(len(values)), key=lambda i: (values[i], -i))


def decode(vector: Any, *, strict: bool = False) -> CSGOAction:
    """A 51-dim action vector (tensor, array or sequence) -> the keys (slot order), clicks and mouse bin values."""
    v = check_vector(vector, strict=strict)
    pressed = [k for i, k in enumerate(KEY_ORDER) if round(v[i]) == 1]  # round(): half to even
    return CSGOAction(
        keys=tuple(keep_allowed_keys(pressed)),
        l_click=round(v[L_CLICK]) != 0,
        r_click=round(v[R_CLICK]) != 0,
        mouse_x=MOUSE_X_BINS[_first_argmax(v[MOUSE_X_OFFSET:MOUSE_Y_OFFSET])],
        mouse_y=MOUSE_Y_BINS[_first_argmax(v[MOUSE_Y_OFFSET:ACTION_SIZE])],
    )


def pygame_key_names() -> dict[int, str]:
    """pygame key code -> key name for every key of the keymap (imports pygame: call it at play time only)."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    import pygame

    return {getattr(pygame, const): name for name, const in PYGAME_CONSTANTS.items()}
