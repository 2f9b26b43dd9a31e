"""scripts/reward_model_alone.py: a preset's reward/termination model alone, checked on held-out episodes."""

from __future__ import annotations

import pytest

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data import EpisodeDataset
from tests.conftest import load_script
from tests.data.test_reward_signal_script import scoreboard_episode


@pytest.fixture(scope="module")
def alone():
    return load_script("reward_model_alone")


def dataset(path, episodes: int):
    ds = EpisodeDataset(path, action_spec=ActionSpec(kind="discrete", num_action_dims=3))
    for _ in range(episodes):
        ds.add_episode(scoreboard_episode(60))
    ds.close()
    return path


def test_it_trains_the_presets_model_and_scores_the_held_out_segments(alone, tmp_path, capsys):
    train, heldout = dataset(tmp_path / "train", 2), dataset(tmp_path / "heldout", 1)
    argv = [str(train), str(heldout), "env.train.size=16", "rew_end_model.training.batch_size=2"]
    assert alone.main([*argv, "--updates", "3", "--every", "2"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert (
        out[0].startswith("120 training steps (rewards -1/0/+1: ")
        and "segments of 19 steps, batch 2" in out[0]
    )
    assert [line.split(" (")[0] for line in out[1:]] == ["update 2", "update 3"]
    assert all("held-out loss" in line and "rewarded recall" in line for line in out[1:])


def test_an_empty_folder_is_named(alone, tmp_path):
    train = dataset(tmp_path / "train", 1)
    EpisodeDataset(tmp_path / "empty").close()
    with pytest.raises(SystemExit, match="empty: no episodes"):
        alone.main([str(train), str(tmp_path / "empty"), "env.train.size=16"])
