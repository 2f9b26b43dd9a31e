"""`make_env`: the batched real environment described by a `GameConfig`."""

from __future__ import annotations

import logging
from typing import Optional

import torch

from diamond_wm.config.env import ENV_TYPES, GameConfig
from diamond_wm.envs.atari import atari_env_fn, check_atari_id
from diamond_wm.envs.gym_pixels import check_gym_id, pixel_env_fn
from diamond_wm.envs.vector import GymVectorTorchEnv

log = logging.getLogger(__name__)


def check_game_config(cfg: GameConfig) -> None:
    """ValueError naming the field and the bad value of an unusable `GameConfig`."""
    checks = (
        ("size", cfg.size, 1),
        ("frame_skip", cfg.frame_skip, 1),
        ("noop_max", cfg.noop_max, 0),
    )
    for name, value, low in checks:
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    m = cfg.max_episode_steps
    if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
        raise ValueError(f"max_episode_steps must be null or an integer >= 1, got {m!r}")


def make_env(
    cfg: GameConfig,
    env_type: str,
    num_envs: int,
    device: torch.device | str = "cpu",
    *,
    asynchronous: Optional[bool] = None,
    context: Optional[str] = None,
) -> GymVectorTorchEnv:
    """`num_envs` copies of the game `cfg` behind the `TorchEnv` interface, tensors on `device`.

    Args:
        cfg: the game (`env.train` or `env.test` of the configuration).
        env_type: "atari" (ALE ids, paper preprocessing, end on life loss when `cfg.done_on_life_loss`) or
            "gym" (any Gymnasium id with discrete actions and pixel observations or rgb_array rendering).
        num_envs: number of environments stepped together.
        device: where observations, rewards and flags are returned.
        asynchronous: one process per environment; None chooses it for Atari with num_envs > 1.
        context: multiprocessing start method for the processes (None: Gymnasium's default).

    Raises ValueError naming the bad value for an unknown `env_type`, an unknown id, or bad sizes, and for the
    types of recorded play ("csgo", "recorded"), which have no environment to run.
    """
    if env_type == "csgo":
        raise ValueError("env type 'csgo' is recorded play: there is no real CS:GO environment to run")
    if env_type == "recorded":
        raise ValueError(
            f"env type 'recorded' is recorded play: there is no real environment of {cfg.id} to run"
        )
    if env_type not in ENV_TYPES:
        raise ValueError(f"unknown env type {env_type!r}: expected one of {list(ENV_TYPES)}")
    if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
        raise ValueError(f"num_envs must be an integer >= 1, got {num_envs!r}")
    check_game_config(cfg)
    if env_type == "atari":
        check_atari_id(cfg.id)
        env_fn = atari_env_fn(cfg)
        done_on_life_loss = cfg.done_on_life_loss
    else:
        check_gym_id(cfg.id)
        env_fn = pixel_env_fn(cfg)
        done_on_life_loss = False
    if asynchronous is None:
        asynchronous = env_type == "atari" and num_envs > 1
    env = GymVectorTorchEnv(
        [env_fn] * num_envs,
        device=device,
        done_on_life_loss=done_on_life_loss,
        asynchronous=asynchronous,
        context=context,
    )
    log.info("env %s (%s): %r, actions %s", cfg.id, env_type, env, env.action_names)
    return env
