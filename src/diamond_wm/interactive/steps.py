"""What a play session's steps are made of: its environments, the controller's choice and the last step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch


@dataclass
class NamedEnv:
    """One environment of the play session (num_envs = 1), with its display name (wm, test, train)."""

    name: str
    env: Any
    is_world_model: bool = False


@dataclass
class LastStep:
    """What the last step did, for the header."""

    action: Any  # int (discrete actions) or (D,) float tensor (multi-hot)
    reward: float
    end: bool
    trunc: bool
    entropy: Optional[float] = None  # bits
    value: Optional[float] = None


@dataclass
class Choice:
    """What the controller chose for the next step."""

    act: torch.Tensor  # (1,) int64 index or (1, D) float multi-hot vector: what the env is stepped with
    hx_cx: Optional[tuple[torch.Tensor, torch.Tensor]] = None  # the policy's state after choosing
    entropy: Optional[float] = None  # bits
    value: Optional[float] = None
    last: bool = False  # the controller has no action after this one: the episode is truncated after it

    @property
    def action(self) -> Any:
        """The action as `LastStep` and the recorder keep it: an int, or a (D,) float tensor on the CPU."""
        a = self.act[0].detach().cpu()
        return int(a) if a.ndim == 0 else a


@dataclass
class PendingStep:
    """A step chosen but not yet taken: `env.step(act)` is what `PlaySession.end_update` needs the result of."""

    env: Any
    act: torch.Tensor
    choice: Choice
    extra: dict[str, torch.Tensor]  # frames the recorder keeps beside this step's frame
