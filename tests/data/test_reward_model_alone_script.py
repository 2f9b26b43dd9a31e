"""scripts/reward_model_alone.py: a preset's reward/termination model alone, checked on held-out episodes."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data import EpisodeDataset
from diamond_wm.data.sampling import SegmentSampler
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
    with pytest.raises(SystemExit, match=f"HELDOUT_DIR {tmp_path / 'empty'}: no episode found"):
        alone.main([str(train), str(tmp_path / "empty"), "env.train.size=16"])


def test_rewarded_share_places_segments_around_the_rewarded_steps(alone, tmp_path, capsys):
    ds = EpisodeDataset(tmp_path / "sparse", action_spec=ActionSpec(kind="discrete", num_action_dims=3))
    ep = scoreboard_episode(60)
    ep.rew.zero_()
    ep.rew[10], ep.rew[40] = 1.0, -1.0
    ds.add_episode(ep)
    ds.close()
    ds = EpisodeDataset(tmp_path / "sparse", read_only=True)
    assert alone.rewarded_steps(ds) == [(0, 10), (0, 40)]
    base = SegmentSampler(
        ds, 4, 19, None, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(0)
    )
    sampler = alone.RewardedShareSampler(base, alone.rewarded_steps(ds), 0.5, seed=0)
    for _ in range(20):
        rew = sampler.sample().rew[:, :-1]  # the transitions the loss counts
        assert rew[:2].ne(0).sum(1).tolist() == [1, 1]  # the first half: around a rewarded step
    shift = alone.class_shift(sampler, ds)
    assert shift[0] > 0 and shift[2] > 0 and shift[1] < 0  # rewarded classes more frequent than in the data
    heldout = dataset(tmp_path / "heldout", 1)
    argv = [
        str(tmp_path / "sparse"),
        str(heldout),
        "env.train.size=16",
        "rew_end_model.training.batch_size=2",
    ]
    assert alone.main([*argv, "--updates", "2", "--every", "2", "--rewarded-share", "0.5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("--rewarded-share 0.5: classes -1/0/+1 ")
    assert out[2].startswith("update 2") and "; adjusted " in out[2]
    with pytest.raises(SystemExit):
        alone.main([*argv, "--rewarded-share", "1.5"])
    assert "--rewarded-share must be in [0, 1], got 1.5" in capsys.readouterr().err


def test_a_class_the_dataset_lacks_gets_no_shift(alone, tmp_path, capsys):
    """Breakout's rewards are all +1: the -1 logit stays as it is and the adjusted scores are numbers."""
    ds = EpisodeDataset(tmp_path / "plus", action_spec=ActionSpec(kind="discrete", num_action_dims=3))
    ep = scoreboard_episode(60)
    ep.rew.clamp_(min=0)
    ep.rew[10] = 1.0
    ds.add_episode(ep)
    ds.close()
    ds = EpisodeDataset(tmp_path / "plus", read_only=True)
    base = SegmentSampler(
        ds, 4, 19, None, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(0)
    )
    shift = alone.class_shift(alone.RewardedShareSampler(base, alone.rewarded_steps(ds), 0.5, seed=0), ds)
    assert shift[0] == 0 and shift[2] > 0 and shift.isfinite().all()
    argv = [str(tmp_path / "plus"), str(dataset(tmp_path / "heldout", 1)), "env.train.size=16"]
    argv += [
        "rew_end_model.training.batch_size=2",
        "--updates",
        "1",
        "--every",
        "1",
        "--rewarded-share",
        "0.5",
    ]
    assert alone.main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("--rewarded-share 0.5: classes -1/0/+1 -/")
    assert "; adjusted " in out[2] and "nan" not in out[2]
