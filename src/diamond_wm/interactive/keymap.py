"""Keys held (by name) -> action for a human player of a discrete-action game, built from the game's action meanings.

Atari (and Catch) actions are named by their meanings (NOOP, FIRE, UP, RIGHT, LEFT, DOWN, UPRIGHT, ..., DOWNLEFTFIRE):
each direction has a key (w = UP, a = LEFT, s = DOWN, d = RIGHT) and FIRE is the space bar; an action is the set of
its keys held together, e.g. UPRIGHTFIRE = w + d + space. This is the published implementation's Atari keymap
(the arrow keys are taken by the play controls: horizon and environment). Games whose actions have no such names
get the digit keys 1, 2, ... for actions 1, 2, ... (action 0 when nothing is pressed). Keys are named as in
`commands.py` ("w", "space", "1").

`keymap_for_config` honours `env.keymap` (see `diamond_wm.config.env.EnvConfig`): `atari/<game id>` asks for the
Atari keymap, and refuses a game whose action names are not Atari meanings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Optional

from diamond_wm.config.env import check_keymap
from diamond_wm.config.errors import ConfigError

TOKEN_KEYS = {"UP": "w", "LEFT": "a", "DOWN": "s", "RIGHT": "d", "FIRE": "space"}
TOKENS_IN_NAMES = ("UP", "DOWN", "RIGHT", "LEFT", "FIRE")  # parsing order of a compound name
KEY_ORDER = ("w", "a", "s", "d", "space")  # the order of the keys of a combination in `describe()`


def parse_meaning(name: str) -> frozenset[str] | None:
    """The tokens of an action meaning ('UPRIGHTFIRE' -> {UP, RIGHT, FIRE}; 'NOOP' -> {}); None if unparsable."""
    rest = name.strip().upper()
    if rest == "NOOP":
        return frozenset()
    tokens = []
    while rest:
        for tok in TOKENS_IN_NAMES:
            if rest.startswith(tok):
                tokens.append(tok)
                rest = rest[len(tok) :]
                break
        else:
            return None
    return frozenset(tokens) if len(tokens) == len(set(tokens)) else None


@dataclass
class Keymap:
    """Key combinations (frozensets of key names) -> action index, and the action names."""

    action_names: list[str]
    combos: dict[frozenset[str], int] = field(default_factory=dict)
    default_action: int = 0

    @classmethod
    def from_action_names(cls, action_names: Sequence[str]) -> Keymap:
        names = [str(n) for n in action_names]
        parsed = [parse_meaning(n) for n in names]
        combos: dict[frozenset[str], int] = {}
        default = 0
        if all(p is not None for p in parsed):
            for idx, tokens in enumerate(parsed):
                assert tokens is not None
                if not tokens:
                    default = idx
                    continue
                combos.setdefault(frozenset(TOKEN_KEYS[t] for t in tokens), idx)
        else:
            for idx in range(1, min(len(names), 10)):
                combos[frozenset({str(idx)})] = idx
        return cls(names, combos, default)

    def action(self, pressed: Iterable[str]) -> int:
        """The action of the largest key combination fully held in `pressed` (the default action if none)."""
        held = set(pressed)
        best, best_size = self.default_action, 0
        for combo, idx in self.combos.items():
            if len(combo) > best_size and combo <= held:
                best, best_size = idx, len(combo)
        return best

    @property
    def action_keys(self) -> frozenset[str]:
        """Every key used by some action."""
        return frozenset(k for combo in self.combos for k in combo)

    def describe(self) -> list[str]:
        """One line per action: 'w + space : UPFIRE'."""
        lines = []
        for combo, idx in sorted(self.combos.items(), key=lambda kv: kv[1]):
            keys = sorted(combo, key=lambda k: (KEY_ORDER.index(k) if k in KEY_ORDER else len(KEY_ORDER), k))
            label = " + ".join(keys)
            lines.append(f"{label:>13} : {self.action_names[idx]}")
        if self.default_action < len(self.action_names):
            lines.append(f"{'(no key)':>13} : {self.action_names[self.default_action]}")
        return lines


def keymap_for_config(keymap: Optional[str], action_names: Sequence[str], env_id: str) -> Keymap:
    """The keys `env.keymap` selects for a game with these action names (`ConfigError` in one line otherwise)."""
    check_keymap(keymap, env_id)
    if keymap is not None and any(parse_meaning(str(n)) is None for n in action_names):
        raise ConfigError(
            "env.keymap",
            keymap,
            f"null: the actions of {env_id} ({', '.join(map(str, action_names))}) are not Atari meanings",
        )
    return Keymap.from_action_names(action_names)
