"""make_env: bad input is refused with a ValueError naming the value and what is accepted."""

from __future__ import annotations

import pytest

from diamond_wm.config.env import GameConfig
from diamond_wm.envs import make_env


def test_unknown_ids_and_types():
    with pytest.raises(
        ValueError, match=r"'BreakoutNoFrameskip-v9'.*ALE id.*did you mean 'BreakoutNoFrameskip-v4'"
    ):
        make_env(GameConfig(id="BreakoutNoFrameskip-v9"), "atari", 1)
    with pytest.raises(ValueError, match=r"'diamond_wm/Catch-v0'.*ALE id"):
        make_env(GameConfig(id="diamond_wm/Catch-v0"), "atari", 1)
    with pytest.raises(ValueError, match=r"unknown Gymnasium env id 'NoSuchGame-v0'.*diamond_wm/Catch-v0"):
        make_env(GameConfig(id="NoSuchGame-v0"), "gym", 1)
    with pytest.raises(ValueError, match=r"unknown env type 'atary'.*\['atari', 'gym', 'csgo', 'recorded'\]"):
        make_env(GameConfig(), "atary", 1)
    with pytest.raises(ValueError, match=r"'csgo' is recorded play: there is no real CS:GO environment"):
        make_env(GameConfig(), "csgo", 1)
    with pytest.raises(
        ValueError, match=r"'recorded' is recorded play: there is no real environment of my-game"
    ):
        make_env(GameConfig(id="my-game"), "recorded", 1)


def test_bad_values():
    with pytest.raises(ValueError, match="num_envs must be an integer >= 1, got 0"):
        make_env(GameConfig(), "atari", 0)
    with pytest.raises(ValueError, match="size must be an integer >= 1, got 0"):
        make_env(GameConfig(size=0), "atari", 1)
    with pytest.raises(ValueError, match="max_episode_steps.*got -3"):
        make_env(GameConfig(id="diamond_wm/Catch-v0", max_episode_steps=-3), "gym", 1)
    with pytest.raises(ValueError, match="Pendulum-v1.*action space"):
        make_env(GameConfig(id="Pendulum-v1"), "gym", 1)
