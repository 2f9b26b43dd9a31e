"""`TorchEnv`: the batched torch interface shared by real vector environments and the world model.

Contract (N environments, frames C x H x W):

- `reset(seed=None) -> (obs, info)`: obs (N, C, H, W) float32 in [-1, 1] on `device`.
- `step(act) -> (obs, rew, end, trunc, info)`: act (N,) int64 in [0, num_actions) (or (N, D) float multi-hot
  vectors for an environment whose `action_spec` says so, e.g. a world model of CS:GO); rew (N,) float32,
  end (N,) uint8 (the episode terminated), trunc (N,) uint8 (it was cut), all on `device`.
  Environments whose episode ended on this step (end or trunc) have already restarted: their row of `obs` is
  the first frame of their next episode, and `info["final_observation"][i]` is the last frame of the episode
  that ended. `info` always holds:
    - `final_observation` (N, C, H, W) float32: the last frame for rows that ended, `obs[i]` for the others;
    - `reset_mask` (N,) bool: rows that ended (end | trunc).
- `num_envs`, `action_spec` (`diamond_wm.config.actions`), `num_actions` and `action_names` (its number of
  actions and their names), `device`, and `close()`.

A class implements it by having these members (structural typing); it need not inherit from `TorchEnv`.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import torch

from diamond_wm.config.actions import ActionSpec

StepResult = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]


@runtime_checkable
class TorchEnv(Protocol):
    """Batched environment with torch tensors in and out (see the module docstring for the contract)."""

    num_envs: int
    action_spec: ActionSpec
    num_actions: int
    action_names: list[str]
    device: torch.device

    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Start new episodes in every environment -> (obs (N, C, H, W) float32 in [-1, 1], info)."""
        ...

    def step(self, act: torch.Tensor) -> StepResult:
        """One step of every environment -> (obs, rew (N,) float32, end (N,) uint8, trunc (N,) uint8, info)."""
        ...

    def close(self) -> None:
        """Release the environments' resources."""
        ...


def check_actions(act: Any, num_envs: int, num_actions: int) -> torch.Tensor:
    """`act` as an int64 CPU tensor of shape (num_envs,); ValueError naming the bad shape or values."""
    act = torch.as_tensor(act)
    if act.is_floating_point() or act.dtype == torch.bool:
        raise ValueError(f"actions must be integers, got dtype {act.dtype}")
    act = act.detach().to("cpu", torch.long)
    if act.shape != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got {tuple(act.shape)}")
    bad = (act < 0) | (act >= num_actions)
    if bad.any():
        raise ValueError(f"actions must be in [0, {num_actions}), got {act[bad].tolist()}")
    return act
