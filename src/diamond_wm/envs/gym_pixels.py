"""Any Gymnasium environment with discrete actions, seen through RGB frames of `size` x `size` (env.type "gym").

Observations: the environment's own when they are images ((H, W, 3), (H, W) or (H, W, 1) uint8), else its
`rgb_array` rendering (`gymnasium.wrappers.AddRenderObservation`). Grey frames are repeated on 3 channels; frames
are resized by area interpolation (`gymnasium.wrappers.ResizeObservation`) when not already `size` x `size`.

Of the `GameConfig` fields, `size`, `max_episode_steps` (a `TimeLimit` in agent steps; a limit registered with
the id still applies too) and `clip_reward` apply as for Atari; `frame_skip` > 1 repeats each action that many times (rewards summed,
last frame kept, no max-pooling: that is an Atari flicker fix). `noop_max` and `done_on_life_loss` are Atari
notions and are ignored here (a debug line says so). Catch is meant to run with `frame_skip: 1`.
"""

from __future__ import annotations

import difflib
import functools
import logging
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import AddRenderObservation, ClipReward, ResizeObservation, TimeLimit

from diamond_wm.config.env import GameConfig
from diamond_wm.envs.catch import ENV_ID as CATCH_ID

log = logging.getLogger(__name__)

ACCEPTED_IDS = f"a registered Gymnasium id with discrete actions and image observations or rgb_array rendering, e.g. {CATCH_ID!r}"


class RepeatAction(gym.Wrapper):
    """Repeats each action `repeat` times (stopping at the end of the episode); rewards summed, last frame kept."""

    def __init__(self, env: gym.Env, repeat: int) -> None:
        super().__init__(env)
        if repeat < 1:
            raise ValueError(f"frame_skip must be >= 1, got {repeat}")
        self.repeat = repeat

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        total = 0.0
        for _ in range(self.repeat):
            obs, rew, terminated, truncated, info = self.env.step(action)
            total += float(rew)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class GreyToRGB(gym.ObservationWrapper):
    """(H, W) or (H, W, 1) uint8 frames -> (H, W, 3)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        h, w = env.observation_space.shape[:2]
        self.observation_space = gym.spaces.Box(0, 255, (h, w, 3), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.repeat(observation.reshape(*observation.shape[:2], 1), 3, axis=2)


def _is_image_space(space: gym.Space) -> bool:
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and (len(space.shape) == 2 or (len(space.shape) == 3 and space.shape[2] in (1, 3)))
    )


def check_gym_id(env_id: str) -> None:
    """ValueError naming `env_id` and what is accepted (with close matches) when it is not registered."""
    try:
        gym.spec(env_id)
        return
    except (gym.error.Error, TypeError):
        pass
    close = difflib.get_close_matches(str(env_id), [str(k) for k in gym.registry], n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown Gymnasium env id {env_id!r}: expected {ACCEPTED_IDS}{hint}")


def make_pixel_env(cfg: GameConfig) -> gym.Env:
    """One sub-environment with (size, size, 3) uint8 frames for `cfg` (see the module docstring)."""
    check_gym_id(cfg.id)
    env = gym.make(cfg.id)
    if not isinstance(env.action_space, gym.spaces.Discrete):
        env.close()
        raise ValueError(f"env id {cfg.id!r} has action space {env.action_space}: expected {ACCEPTED_IDS}")
    if not _is_image_space(env.observation_space):
        env.close()
        modes = env.metadata.get("render_modes") or []
        if "rgb_array" not in modes:
            raise ValueError(
                f"env id {cfg.id!r} has observation space {env.observation_space} and no rgb_array rendering "
                f"(render modes {modes}): expected {ACCEPTED_IDS}"
            )
        env = AddRenderObservation(gym.make(cfg.id, render_mode="rgb_array"), render_only=True)
    if len(env.observation_space.shape) == 2 or env.observation_space.shape[2] == 1:
        env = GreyToRGB(env)
    if env.observation_space.shape[:2] != (cfg.size, cfg.size):
        env = ResizeObservation(env, (cfg.size, cfg.size))
    if cfg.frame_skip > 1:
        env = RepeatAction(env, cfg.frame_skip)
    if cfg.max_episode_steps is not None:
        env = TimeLimit(env, max_episode_steps=cfg.max_episode_steps)
    if cfg.clip_reward:
        env = ClipReward(env, -1.0, 1.0)
    if cfg.noop_max or cfg.done_on_life_loss:
        log.debug("%s: noop_max and done_on_life_loss apply to Atari only; ignored", cfg.id)
    return env


def pixel_env_fn(cfg: GameConfig) -> functools.partial[gym.Env]:
    """A picklable constructor of `make_pixel_env(cfg)` (for `AsyncVectorEnv`)."""
    return functools.partial(make_pixel_env, cfg)
