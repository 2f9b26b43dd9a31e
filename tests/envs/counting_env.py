"""A deterministic test environment whose frames spell out (env index, episode number, step): leakage shows.

Frame pixel [0, 0] holds (episode number % 256, step within the episode, env index). Episode e of env k lasts
3 + (k + e) % 4 steps; it terminates, except every third episode (e % 3 == 2), which is truncated instead.
The reward of the step from t to t + 1 is t + 1.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


def episode_length(env_index: int, episode: int) -> int:
    return 3 + (env_index + episode) % 4


def decode(frame: np.ndarray) -> tuple[int, int, int]:
    """(episode % 256, step, env index) from an (H, W, 3) or (3, H, W) uint8 frame."""
    px = frame[0, 0] if frame.shape[-1] == 3 else frame[:, 0, 0]
    return int(px[0]), int(px[1]), int(px[2])


class CountingEnv(gym.Env):
    metadata = {"render_modes": []}

    def __init__(self, env_index: int = 0, size: int = 8) -> None:
        self.env_index = env_index
        self.size = size
        self.observation_space = gym.spaces.Box(0, 255, (size, size, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.episode = -1
        self.t = 0

    def _frame(self) -> np.ndarray:
        f = np.zeros((self.size, self.size, 3), dtype=np.uint8)
        f[0, 0] = (self.episode % 256, self.t, self.env_index)
        return f

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.episode += 1
        self.t = 0
        return self._frame(), {}

    def step(self, action):
        self.t += 1
        reward = float(self.t)
        over = self.t == episode_length(self.env_index, self.episode)
        truncated = over and self.episode % 3 == 2
        return self._frame(), reward, over and not truncated, truncated, {}

    def get_action_meanings(self) -> list[str]:
        return ["A", "B"]


def counting_env_fns(num_envs: int) -> list:
    return [lambda k=k: CountingEnv(k) for k in range(num_envs)]
