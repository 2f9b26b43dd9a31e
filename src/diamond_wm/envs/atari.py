"""Atari environments as in the paper, built from Gymnasium's and ALE's own pieces.

One sub-environment is: the ALE env (`frameskip=1`, `repeat_action_probability=0`: no sticky actions,
`full_action_space=False`: the game's minimal action set) -> `gymnasium.wrappers.AtariPreprocessing`
(`noop_max` no-ops at reset, `frame_skip` with max-pooling of the last two frames, `screen_size` x `screen_size`
RGB by area interpolation, `grayscale_obs=False`, `terminal_on_life_loss=False`) -> `LifeLossInfo` (adds
`info["life_loss"]`) -> `TimeLimit(max_episode_steps)` counted in agent steps (after frame skipping) ->
`ClipReward(-1, 1)` when `clip_reward`. This reproduces `atari_trajectory.npz` of the reference bit for bit.

Episode end on life loss (training environments only) is applied by `GymVectorTorchEnv(done_on_life_loss=True)`
above the vector env, so that the game goes on after a lost life: see `diamond_wm.envs.vector`.
"""

from __future__ import annotations

import difflib
import functools
from typing import Any

import ale_py
import gymnasium as gym
from gymnasium.wrappers import AtariPreprocessing, ClipReward, TimeLimit

from diamond_wm.config.env import GameConfig

gym.register_envs(ale_py)

ACCEPTED_IDS = "an ALE id such as 'BreakoutNoFrameskip-v4' or 'ALE/Breakout-v5'"


class LifeLossInfo(gym.Wrapper):
    """Adds `info["life_loss"]` (bool): the step cost at least one life. The game is not reset."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._lives = 0

    def _read_lives(self) -> int:
        return int(self.env.unwrapped.ale.lives())

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._lives = self._read_lives()
        return obs, {**info, "life_loss": False}

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, rew, terminated, truncated, info = self.env.step(action)
        lives = self._read_lives()
        life_loss = lives < self._lives
        self._lives = lives
        return obs, rew, terminated, truncated, {**info, "life_loss": life_loss}


def is_atari_id(env_id: str) -> bool:
    """True for ids registered by ale_py."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error:
        return False
    entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
    return entry.startswith("ale_py")


def check_atari_id(env_id: str) -> None:
    """ValueError naming `env_id` and what is accepted, with close matches, when it is not an ALE id."""
    if isinstance(env_id, str) and is_atari_id(env_id):
        return
    known = [k for k in gym.registry if is_atari_id(k)] if isinstance(env_id, str) else []
    close = difflib.get_close_matches(str(env_id), known, n=3)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(f"unknown Atari env id {env_id!r}: expected {ACCEPTED_IDS}{hint}")


def make_atari_env(cfg: GameConfig, render_mode: str | None = None) -> gym.Env:
    """One preprocessed Atari sub-environment for `cfg` (see the module docstring)."""
    check_atari_id(cfg.id)
    env = gym.make(
        cfg.id,
        frameskip=1,
        repeat_action_probability=0.0,
        full_action_space=False,
        render_mode=render_mode,
    )
    env = AtariPreprocessing(
        env,
        noop_max=cfg.noop_max,
        frame_skip=cfg.frame_skip,
        screen_size=cfg.size,
        terminal_on_life_loss=False,
        grayscale_obs=False,
    )
    env = LifeLossInfo(env)
    if cfg.max_episode_steps is not None:
        env = TimeLimit(env, max_episode_steps=cfg.max_episode_steps)
    if cfg.clip_reward:
        env = ClipReward(env, -1.0, 1.0)
    return env


def atari_env_fn(cfg: GameConfig) -> functools.partial[gym.Env]:
    """A picklable constructor of `make_atari_env(cfg)` (for `AsyncVectorEnv`)."""
    return functools.partial(make_atari_env, cfg)
