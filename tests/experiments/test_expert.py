"""The scripted Catch expert and its static dataset: optimal play, our layout, the frames a run would see."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.env import GameConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.frames import to_uint8_frames
from diamond_wm.data.static import resolve_static_dataset
from diamond_wm.envs.catch import LONG_ENV_ID
from diamond_wm.envs.factory import make_env
from diamond_wm.experiments import expert


def test_the_expert_catches_every_ball():
    env = expert.catch_long_env(16)
    for seed in range(5):
        episode = expert.expert_episode(env, seed)
        assert len(episode) == 55 and episode.rew.sum() == 7 and (episode.rew >= 0).all()
        assert episode.end[-1] == 1 and episode.obs.shape[1:] == (3, 16, 16)
        assert set(episode.act.tolist()) == {0, 1, 2}


def test_dataset_layout_and_seeds(tmp_path):
    root = expert.write_expert_dataset(tmp_path / "ds", num_train=3, num_test=2, seed=10)
    paths = resolve_static_dataset(root)
    assert paths.train == root / "train" and paths.test == root / "test"
    train, test = EpisodeDataset(paths.train, read_only=True), EpisodeDataset(paths.test, read_only=True)
    assert (train.num_episodes, test.num_episodes) == (3, 2)
    assert train.action_spec == ActionSpec.discrete(3, ["NOOP", "LEFT", "RIGHT"])
    again = expert.expert_episode(
        expert.catch_long_env(16), 10 + 3 + 1
    )  # test episode 1: seed + num_train + 1
    assert torch.equal(test.load_episode(1).obs, again.obs)
    with pytest.raises(ValueError, match="already holds 3 episodes"):
        expert.write_expert_dataset(root, 1, 1)


def test_frames_are_those_of_the_registered_game_at_size_16():
    """The dataset's 16 x 16 frames equal what `diamond train env.train.id=diamond_wm/CatchLong-v0
    env.train.size=16` observes (64 x 64 frames resized by area)."""
    episode = expert.expert_episode(expert.catch_long_env(16), 7)
    cfg = GameConfig(id=LONG_ENV_ID, size=16, noop_max=0, frame_skip=1, done_on_life_loss=False)
    env = make_env(cfg, "gym", 1, "cpu", asynchronous=False)
    try:
        obs, _ = env.reset(seed=7)
        for t in range(len(episode)):
            assert torch.equal(to_uint8_frames(obs[0]), episode.obs[t]), t
            obs, *_ = env.step(episode.act[t : t + 1])
    finally:
        env.close()


def test_size_must_fit_the_grid():
    with pytest.raises(ValueError, match="size must be a multiple of 8, got 12"):
        expert.catch_long_env(12)
