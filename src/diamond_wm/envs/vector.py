"""`GymVectorTorchEnv`: N Gymnasium environments with uint8 RGB frames behind the `TorchEnv` interface.

Autoreset: the Gymnasium vector env runs with `AutoresetMode.SAME_STEP`. On the step where a sub-environment's
episode ends, Gymnasium resets it at once and returns the first frame of the next episode in `obs`, while the last
frame of the episode that ended comes in `info["final_obs"]`. That is exactly the `TorchEnv` contract, and no
step of the next episode is ever merged into the one that ended (with the default NEXT_STEP mode, the step
after an end is a reset step whose action is ignored and whose reward is zero; it must be dropped by hand).

Life losses (Atari training environments): sub-environments report `info["life_loss"]` and keep playing; when
`done_on_life_loss` is set, this wrapper turns a life loss into `end=1` without resetting the game (the next
episode starts from the frame after the lost life, which is also the ended episode's final observation). This is
what the published DIAMOND does; Gymnasium's `terminal_on_life_loss=True` would instead restart the whole game
at every lost life (the agent would never see later lives) and returns a stale frame on those steps.
A step that both terminates (or loses a life under `done_on_life_loss`) and truncates reports end=1, trunc=0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from diamond_wm.config.actions import ActionSpec
from diamond_wm.envs.base import StepResult, check_actions

log = logging.getLogger(__name__)


def _action_names(env: gym.vector.VectorEnv, num_actions: int) -> list[str]:
    """Names from the sub-environments' `get_action_meanings()` (Atari, Catch), else "0", "1", ..."""
    try:
        names = list(env.call("get_action_meanings")[0])
    except (AttributeError, NotImplementedError, TypeError):
        names = []
    if len(names) != num_actions:
        names = [str(a) for a in range(num_actions)]
    return [str(n) for n in names]


class GymVectorTorchEnv:
    """`TorchEnv` over a Gymnasium vector env of sub-environments with (H, W, 3) uint8 observations.

    Args:
        env_fns: one constructor per sub-environment (picklable for `asynchronous=True`).
        device: where the returned tensors live.
        done_on_life_loss: turn `info["life_loss"]` of a sub-environment into `end=1` (the game goes on).
        asynchronous: one process per sub-environment (`AsyncVectorEnv`) instead of a loop in this process.
        context: multiprocessing start method of `AsyncVectorEnv` (None: Gymnasium's default).
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], gym.Env]],
        device: torch.device | str = "cpu",
        done_on_life_loss: bool = False,
        asynchronous: bool = False,
        context: Optional[str] = None,
    ) -> None:
        if len(env_fns) < 1:
            raise ValueError(f"need at least one environment, got {len(env_fns)}")
        mode = AutoresetMode.SAME_STEP
        if asynchronous:
            self.env: gym.vector.VectorEnv = AsyncVectorEnv(env_fns, context=context, autoreset_mode=mode)
        else:
            self.env = SyncVectorEnv(env_fns, autoreset_mode=mode)
        space = self.env.single_observation_space
        if not (isinstance(space, gym.spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3):
            self.env.close()
            raise ValueError(
                f"sub-environments must give (H, W, 3) uint8 frames, got observation space {space}"
            )
        if not isinstance(self.env.single_action_space, gym.spaces.Discrete):
            self.env.close()
            raise ValueError(
                f"sub-environments must have discrete actions, got {self.env.single_action_space}"
            )
        self.device = torch.device(device)
        self.num_envs = len(env_fns)
        self.num_actions = int(self.env.single_action_space.n)
        self.action_names = _action_names(self.env, self.num_actions)
        self.action_spec = ActionSpec.discrete(self.num_actions, self.action_names)
        self.frame_shape = (space.shape[2], space.shape[0], space.shape[1])  # (C, H, W)
        self.done_on_life_loss = done_on_life_loss

    def _frames(self, x: np.ndarray) -> torch.Tensor:
        """(N, H, W, C) uint8 -> (N, C, H, W) float32 in [-1, 1] on device."""
        t = torch.from_numpy(np.ascontiguousarray(x)).to(self.device, non_blocking=True)
        return t.permute(0, 3, 1, 2).float().div_(255).mul_(2).sub_(1).contiguous()

    def _bools(self, x: Any) -> torch.Tensor:
        return torch.as_tensor(np.asarray(x, dtype=bool), device=self.device)

    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Reset every sub-environment (sub-environment i gets seed + i when a seed is given)."""
        obs, _ = self.env.reset(seed=seed)
        return self._frames(obs), {}

    def step(self, act: torch.Tensor) -> StepResult:
        """One step of every sub-environment; see `diamond_wm.envs.base` for the outputs."""
        a = check_actions(act, self.num_envs, self.num_actions).numpy()
        obs, rew, terminated, truncated, info = self.env.step(a)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        done = terminated | truncated
        life_loss = np.asarray(info.get("life_loss", np.zeros(self.num_envs)), dtype=bool).copy()
        final_info = info.get("final_info", {})
        if done.any() and "life_loss" in final_info:  # rows that were reset: the step's own info is here
            life_loss[done] = np.asarray(final_info["life_loss"], dtype=bool)[done]
        end = terminated | (life_loss if self.done_on_life_loss else False)
        trunc = truncated & ~end
        reset_mask = end | trunc

        obs_t = self._frames(obs)
        final_t = obs_t.clone()
        if done.any():  # rows reset by Gymnasium: their last frame is in final_obs
            idx = np.flatnonzero(done)
            final_t[torch.from_numpy(idx).to(self.device)] = self._frames(np.stack(info["final_obs"][idx]))
        out_info = {
            "final_observation": final_t,
            "reset_mask": self._bools(reset_mask),
            "life_loss": self._bools(life_loss),
        }
        rew_t = torch.as_tensor(np.asarray(rew, dtype=np.float32), device=self.device)
        end_t = torch.as_tensor(end.astype(np.uint8), device=self.device)
        trunc_t = torch.as_tensor(trunc.astype(np.uint8), device=self.device)
        return obs_t, rew_t, end_t, trunc_t, out_info

    def get_state(self) -> list[Any] | None:
        """The sub-environments' `state` (for exact resumes), or None when a game cannot be saved (e.g. ALE)."""
        try:
            return list(self.env.get_attr("state"))
        except AttributeError:
            return None

    def set_state(self, states: Sequence[Any]) -> None:
        """Put back what `get_state` returned (after a `reset`)."""
        if len(states) != self.num_envs:
            raise ValueError(f"expected {self.num_envs} sub-environment states, got {len(states)}")
        self.env.set_attr("state", list(states))

    def close(self) -> None:
        """Close the sub-environments (and their processes). Where a sub-environment's process is already gone
        (a signal sent to the whole process group, such as Ctrl-C in a terminal, reaches them too), the others are
        terminated instead of being asked to close, so that closing does not fail over a process that has exited."""
        try:
            self.env.close()
        except (ConnectionError, EOFError) as e:
            if not isinstance(self.env, AsyncVectorEnv):
                raise
            log.warning("a sub-environment process had already exited (%s): terminating the others", e)
            self.env.close(terminate=True)

    def __repr__(self) -> str:
        kind = type(self.env).__name__
        return f"GymVectorTorchEnv({kind}, num_envs={self.num_envs}, num_actions={self.num_actions}, {self.device})"
