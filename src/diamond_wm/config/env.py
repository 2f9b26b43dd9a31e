"""Typed configuration of the environments (tree and key names of the published `config/env/atari.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from diamond_wm.config.errors import ConfigError

# csgo and recorded: recorded play only, no real environment (recorded: your own game, `--config-name world_model`)
ENV_TYPES = ("atari", "gym", "csgo", "recorded")
CSGO_KEYMAP = "csgo"
ATARI_KEYMAP_PREFIX = "atari/"


@dataclass
class GameConfig:
    """One real environment (train or test).

    For `type: atari`, `id` is an ALE id such as `BreakoutNoFrameskip-v4`; for `type: gym`, any registered Gymnasium
    id with discrete actions and pixel observations (or `rgb_array` rendering), e.g. the built-in `diamond_wm/Catch-v0`.
    """

    id: str = "BreakoutNoFrameskip-v4"
    size: int = 64
    max_episode_steps: Optional[int] = None
    noop_max: int = 30
    frame_skip: int = 4
    done_on_life_loss: bool = True
    clip_reward: bool = False


@dataclass
class EnvConfig:
    """Train and test environments. The test environment ends episodes on game over only.

    `keymap` selects the keys of `diamond play`, as in the published code: `atari/<env.train.id>` (the presets'
    `atari/${.train.id}`) is the Atari keymap (w/a/s/d + space) of that game's action meanings; null gives the
    keys the action names allow (the Atari keymap when they are Atari meanings, else the digit keys).
    """

    type: str = "atari"
    train: GameConfig = field(default_factory=GameConfig)
    test: GameConfig = field(default_factory=lambda: GameConfig(done_on_life_loss=False))
    keymap: Optional[str] = None
    # The published csgo keys (`env=csgo`): the low-resolution dataset (train/, test/) and the same episodes at full
    # resolution; `--config-name csgo` trains on them (static_dataset.path and .full_res_path).
    path_data_low_res: Optional[str] = None
    path_data_full_res: Optional[str] = None


def check_keymap(keymap: Optional[str], env_id: str, env_type: str = "atari") -> None:
    """`ConfigError` (one line naming the value and what is accepted) unless `env.keymap` can be honoured."""
    if keymap is None or keymap == ATARI_KEYMAP_PREFIX + env_id:
        return
    if keymap == CSGO_KEYMAP and env_type == "csgo":
        return
    accepted = (
        f"null (keys from the action names) or {ATARI_KEYMAP_PREFIX}{env_id} (the Atari keymap of env.train.id); "
        f"{CSGO_KEYMAP} (keyboard and mouse) goes with env.type=csgo"
    )
    raise ConfigError("env.keymap", keymap, accepted)
