"""Typed configuration of the environments (tree and key names of the published `config/env/atari.yaml`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

ENV_TYPES = ("atari", "gym")


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
    """Train and test environments. The test environment ends episodes on game over only."""

    type: str = "atari"
    train: GameConfig = field(default_factory=GameConfig)
    test: GameConfig = field(default_factory=lambda: GameConfig(done_on_life_loss=False))
    keymap: Optional[str] = None
