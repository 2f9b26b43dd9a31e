"""`ActionSpec`: what an action is, shared by datasets, environments, models and play.

Two kinds:

- discrete: one of n actions, stored as an int64 index in [0, n) (Atari, Catch); the actions may be named (the
  game's action meanings).
- multi-hot: a float32 vector of `num_action_dims` entries, each 0 or 1, in named groups of dimensions (CS:GO:
  11 keys, 2 clicks, 23 mouse-x bins, 15 mouse-y bins); in a one-hot group exactly one entry is 1.

Models embed both kinds through one weight of shape [num_action_dims, C]: the row of the index, or the float
vector times the weight (`diamond_wm.models.action_embedding`). A padded step is action 0, or the all-zero vector
(which embeds to zero).

A spec is plain JSON (`to_dict` / `from_dict`), kept in `action_spec.json` beside a dataset's `info.pt` and in a
run's `config/` folder (`write_action_spec` / `read_action_spec`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.runtime.atomic import atomic_write_text

DISCRETE = "discrete"
MULTI_HOT = "multi_hot"
KINDS = (DISCRETE, MULTI_HOT)
ACTION_SPEC_FILENAME = "action_spec.json"


@dataclass(frozen=True)
class ActionGroup:
    """Consecutive dimensions of a multi-hot action: their names, and whether exactly one of them is 1."""

    name: str
    names: tuple[str, ...]
    one_hot: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        if not self.name or not self.names:
            raise ValueError(f"action group {self.name!r}: expected a name and at least one dimension name")

    @property
    def size(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class ActionSpec:
    """The kind and dimensions of the actions (see the module docstring). Build with `discrete` or `multi_hot`.

    `num_action_dims` is n (discrete) or the vector length (multi-hot): the first dimension of the models'
    action embeddings. `names` name the discrete actions (may be empty); `groups` lay out the multi-hot vector.
    """

    kind: str
    num_action_dims: int
    names: tuple[str, ...] = ()
    groups: tuple[ActionGroup, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(str(n) for n in self.names))
        object.__setattr__(self, "groups", tuple(self.groups))
        if self.kind not in KINDS:
            raise ValueError(f"action kind {self.kind!r}: expected one of {', '.join(KINDS)}")
        n = self.num_action_dims
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"num_action_dims={n!r}: expected an integer >= 1")
        if self.kind == DISCRETE:
            if self.groups:
                raise ValueError("discrete actions have no groups (groups lay out multi-hot vectors)")
            if self.names and len(self.names) != n:
                raise ValueError(
                    f"{len(self.names)} action names for {n} discrete actions: expected {n} or none"
                )
            return
        if self.names:
            raise ValueError("multi-hot actions are named by their groups, not by `names`")
        if not self.groups or sum(g.size for g in self.groups) != n:
            raise ValueError(
                f"multi-hot groups of sizes {[g.size for g in self.groups]}: expected sizes summing to {n}"
            )

    # ------------------------------------------------------------------ construction

    @classmethod
    def discrete(cls, num_actions: int, names: Optional[Sequence[str]] = None) -> ActionSpec:
        """n discrete actions, optionally named."""
        return cls(DISCRETE, num_actions, tuple(names or ()))

    @classmethod
    def multi_hot(cls, groups: Sequence[ActionGroup]) -> ActionSpec:
        """A multi-hot vector laid out as `groups`, in order."""
        groups = tuple(groups)
        if not groups:
            raise ValueError("multi-hot actions without groups: expected at least one group of dimensions")
        return cls(MULTI_HOT, sum(g.size for g in groups), (), groups)

    @classmethod
    def infer(cls, act: torch.Tensor) -> ActionSpec:
        """A spec that fits recorded actions: integers (T,) -> discrete with max + 1 actions (a lower bound: an
        action never taken is not seen); floats (T, D) -> D unnamed multi-hot dimensions."""
        if act.is_floating_point():
            if act.ndim != 2:
                raise ValueError(
                    f"float actions of shape {tuple(act.shape)}: expected (T, D) multi-hot vectors"
                )
            d = int(act.shape[1])
            return cls.multi_hot([ActionGroup("dims", tuple(str(i) for i in range(d)))])
        return cls.discrete(int(act.max().item()) + 1 if act.numel() else 1)

    # ------------------------------------------------------------------ properties

    @property
    def is_discrete(self) -> bool:
        return self.kind == DISCRETE

    @property
    def dtype(self) -> torch.dtype:
        """How an action is stored: int64 indices or float32 vectors."""
        return torch.int64 if self.is_discrete else torch.float32

    @property
    def labels(self) -> list[str]:
        """One label per discrete action ("0", "1", ... when unnamed) or per multi-hot dimension ("group:name")."""
        if self.is_discrete:
            return list(self.names) or [str(a) for a in range(self.num_action_dims)]
        return [f"{g.name}:{n}" for g in self.groups for n in g.names]

    def zeros(self, *batch_shape: int, device: torch.device | str | None = None) -> torch.Tensor:
        """Padding actions of `batch_shape`: index 0 (batch_shape) or all-zero vectors (*batch_shape, D)."""
        shape = batch_shape if self.is_discrete else (*batch_shape, self.num_action_dims)
        return torch.zeros(shape, dtype=self.dtype, device=device)

    def describe(self) -> str:
        """For error lines: '4 actions', '51-dim multi-hot actions (keys 11, mouse_x 23 one-hot, ...)'."""
        if self.is_discrete:
            return f"{self.num_action_dims} actions"
        groups = ", ".join(f"{g.name} {g.size}{' one-hot' if g.one_hot else ''}" for g in self.groups)
        return f"{self.num_action_dims}-dim multi-hot actions ({groups})"

    def same_layout(self, other: ActionSpec) -> bool:
        """Same kind and number of dimensions: what a checkpoint's weights can tell (names are not stored)."""
        return self.kind == other.kind and self.num_action_dims == other.num_action_dims

    # ------------------------------------------------------------------ validation

    def validate(self, act: Any, what: str = "actions") -> None:
        """ValueError (one line naming the bad value and what is accepted) unless `act` holds valid actions:
        integer indices in [0, n) of any shape, or float vectors (..., D) of 0s and 1s with one 1 per one-hot
        group."""
        act = torch.as_tensor(act)
        if self.is_discrete:
            if act.is_floating_point() or act.is_complex() or act.dtype == torch.bool:
                raise ValueError(
                    f"{what} of dtype {act.dtype}: expected integer indices of {self.describe()}"
                )
            bad = (act < 0) | (act >= self.num_action_dims)
            if bad.any():
                values = act[bad].unique().tolist()[:5]
                raise ValueError(
                    f"{what} {values} out of range: expected indices in [0, {self.num_action_dims})"
                )
            return
        d = self.num_action_dims
        if not act.is_floating_point():
            raise ValueError(f"{what} of dtype {act.dtype}: expected float vectors of {self.describe()}")
        if act.ndim < 1 or act.shape[-1] != d:
            raise ValueError(
                f"{what} of shape {tuple(act.shape)}: expected (..., {d}) vectors of {self.describe()}"
            )
        bad = (act != 0) & (act != 1)
        if bad.any():
            values = act[bad].unique().tolist()[:5]
            raise ValueError(f"{what} hold {values}: expected 0 or 1 in each of the {d} dimensions")
        start = 0
        for g in self.groups:
            if g.one_hot:
                hot = act[..., start : start + g.size].sum(-1)
                if (hot != 1).any():
                    count = int(hot[hot != 1].flatten()[0].item())
                    raise ValueError(
                        f"{what}: {count} hot entries in the one-hot group {g.name!r} (dimensions "
                        f"{start}-{start + g.size - 1}): expected exactly 1"
                    )
            start += g.size

    # ------------------------------------------------------------------ plain form

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON/YAML-able form."""
        if self.is_discrete:
            return {"kind": DISCRETE, "num_actions": self.num_action_dims, "names": list(self.names)}
        groups = [{"name": g.name, "names": list(g.names), "one_hot": g.one_hot} for g in self.groups]
        return {"kind": MULTI_HOT, "groups": groups}

    @classmethod
    def from_dict(cls, data: Any) -> ActionSpec:
        """The spec of `to_dict`'s form; ValueError (one line) naming what is wrong."""
        if not isinstance(data, dict) or data.get("kind") not in KINDS:
            kind = data.get("kind") if isinstance(data, dict) else type(data).__name__
            raise ValueError(
                f"action spec of kind {kind!r}: expected a mapping with kind {' or '.join(KINDS)}"
            )
        try:
            if data["kind"] == DISCRETE:
                return cls.discrete(data["num_actions"], data.get("names") or ())
            groups = data["groups"]
            if not isinstance(groups, list) or not all(isinstance(g, dict) for g in groups):
                raise ValueError(f"groups {groups!r}: expected a list of {{name, names, one_hot}} mappings")
            return cls.multi_hot(
                [
                    ActionGroup(str(g["name"]), tuple(g["names"]), bool(g.get("one_hot", False)))
                    for g in groups
                ]
            )
        except KeyError as e:
            raise ValueError(f"{data['kind']} action spec without {e.args[0]!r}") from None
        except TypeError as e:
            raise ValueError(f"{data['kind']} action spec: {e}") from None


def action_mismatch(
    actions: ActionSpec | int, name: str, other: ActionSpec, other_name: str
) -> Optional[str]:
    """None when `actions` fit `other` (same kind and number of dimensions), else 'NAME has 4 actions but
    OTHER_NAME has 3 actions'. `actions` may be a number of dimensions alone, when that is all that is known (a bare
    checkpoint's weights do not tell the kind): then only the numbers are compared."""
    if isinstance(actions, ActionSpec):
        if actions.same_layout(other):
            return None
        text = actions.describe()
    else:
        if actions == other.num_action_dims:
            return None
        text = f"{actions} actions" if other.is_discrete else f"{actions}-dim actions"
    return f"{name} has {text} but {other_name} has {other.describe()}"


def read_action_spec(path: str | Path) -> Optional[ActionSpec]:
    """The spec stored in `path` (an `action_spec.json`), None when there is no such file."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        return ActionSpec.from_dict(json.loads(path.read_text()))
    except (ValueError, OSError) as e:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{path}: {str(e).splitlines()[0]}") from e


def write_action_spec(path: str | Path, spec: ActionSpec) -> None:
    """Write `spec` as JSON, atomically."""
    atomic_write_text(path, json.dumps(spec.to_dict(), indent=2) + "\n")
