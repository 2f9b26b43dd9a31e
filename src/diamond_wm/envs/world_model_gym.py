"""A single-environment Gymnasium view of `WorldModelEnv` (uint8 HWC frames, discrete actions only)."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from diamond_wm.envs.world_model_env import WorldModelEnv


def to_uint8_hwc(obs: torch.Tensor) -> np.ndarray:
    """(C, H, W) float in [-1, 1] -> (H, W, C) uint8."""
    return obs.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8).permute(1, 2, 0).cpu().numpy()


class WorldModelGymEnv(gym.Env):
    """`gymnasium.Env` over a `WorldModelEnv` with `num_envs == 1`."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 15}

    def __init__(self, wm_env: WorldModelEnv, render_mode: str | None = None) -> None:
        if not wm_env.action_spec.is_discrete:
            raise ValueError(f"WorldModelGymEnv takes discrete actions, not {wm_env.action_spec.describe()}")
        if wm_env.num_envs != 1:
            raise ValueError(f"WorldModelGymEnv needs a WorldModelEnv with num_envs=1, got {wm_env.num_envs}")
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.wm_env = wm_env
        self.render_mode = render_mode
        c = wm_env.world_model.denoiser.cfg.inner_model.img_channels
        size = self._frame_size()
        self.observation_space = gym.spaces.Box(0, 255, (size[0], size[1], c), dtype=np.uint8)
        self.action_space = gym.spaces.Discrete(wm_env.num_actions)
        self._last: np.ndarray | None = None

    def _frame_size(self) -> tuple[int, int]:
        obs, _ = self.wm_env.initial_conditions(1, torch.Generator().manual_seed(0))
        return int(obs.shape[-2]), int(obs.shape[-1])

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        obs, _ = self.wm_env.reset(seed=seed)
        self._last = to_uint8_hwc(obs[0])
        return self._last, {}

    def step(self, action):
        if not self.action_space.contains(action):
            raise ValueError(f"action must be in [0, {self.action_space.n}), got {action!r}")
        obs, rew, end, trunc, info = self.wm_env.step(torch.tensor([int(action)]))
        final = info["final_observation"][0]
        terminated, truncated = bool(end[0]), bool(trunc[0])
        # A finished episode shows its last imagined frame; the next reset() starts a fresh context.
        self._last = to_uint8_hwc(final if (terminated or truncated) else obs[0])
        return self._last, float(rew[0]), terminated, truncated, {}

    def render(self):
        return self._last
