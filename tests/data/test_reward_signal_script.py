"""scripts/reward_signal.py: whether a dataset's rewards show in the top rows of its frames."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.data import Episode, EpisodeDataset
from tests.conftest import load_script


@pytest.fixture(scope="module")
def signal():
    return load_script("reward_signal")


def scoreboard_episode(length: int = 400) -> Episode:
    """A still frame whose top-left pixel flips at each +1 reward and top-right pixel at each -1, as a score."""
    g = torch.Generator().manual_seed(0)
    rew = torch.zeros(length)
    rew[torch.randperm(length - 1, generator=g)[:40]] = 1.0
    rew[torch.randperm(length - 1, generator=g)[:40]] = -1.0
    obs = torch.full((length, 3, 16, 16), 100, dtype=torch.uint8)
    obs[:, :, 0] = 0  # the score row: counts start at 0
    obs[1:, :, 0, 0] = ((rew[:-1] > 0).cumsum(0) % 2 * 200).to(torch.uint8)[:, None]
    obs[1:, :, 0, -1] = ((rew[:-1] < 0).cumsum(0) % 2 * 200).to(torch.uint8)[:, None]
    zeros = torch.zeros(length, dtype=torch.uint8)
    return Episode(obs, torch.zeros(length, dtype=torch.long), rew, zeros, zeros.clone(), {})


def test_a_score_in_the_top_rows_is_found(signal, tmp_path, capsys):
    ds = EpisodeDataset(tmp_path / "train")
    ep = scoreboard_episode()
    ds.add_episode(ep)
    ds.close()
    x, y = signal.transitions(tmp_path / "train", rows=2)
    assert x.shape == (399, 3 * 2 * 16) and torch.equal(y, ep.rew[:-1].sign().long() + 1)
    assert signal.main([str(tmp_path / "train"), "--rows", "2", "--updates", "200"]) == 0
    out = capsys.readouterr().out.splitlines()
    n_pos, n_neg = int((y == 2).sum()), int((y == 0).sum())
    assert out[0] == f"399 transitions, rewards -1/0/+1: {n_neg}/{399 - n_pos - n_neg}/{n_pos}"
    assert out[2] == "top 2 rows change in 100.0% of rewarded transitions, 0.0% of the others"
    assert out[-1].endswith("rewarded transitions' sign recall 1.00")


def test_class_entropy(signal):
    assert signal.class_entropy(torch.tensor([1, 1, 1, 1])) == 0.0
    assert signal.class_entropy(torch.tensor([0, 1, 2])) == pytest.approx(1.0986, abs=1e-4)


@pytest.mark.parametrize("make", ["missing", "empty"])
def test_a_folder_without_episodes_is_named(signal, tmp_path, make):
    folder = tmp_path / "train"
    if make == "empty":
        folder.mkdir()
    with pytest.raises(SystemExit, match=f"reward_signal: DATASET_DIR {folder}: .*expected a dataset folder"):
        signal.main([str(folder)])
    assert folder.exists() == (make == "empty")  # nothing created where nothing was
