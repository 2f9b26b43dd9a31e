"""Datasets record their action spec beside `info.pt`, hold multi-hot episodes, and read old datasets as before."""

from __future__ import annotations

import json

import pytest
import torch

from diamond_wm.config.actions import ActionGroup, ActionSpec
from diamond_wm.data import Episode, EpisodeDataset, SegmentSampler
from diamond_wm.data.action_specs import dataset_action_spec, infer_action_spec
from diamond_wm.data.errors import DatasetError
from diamond_wm.data.sampling import SegmentId, make_batch
from diamond_wm.data.storage import load_pt
from tests.data.helpers import assert_episodes_equal, random_episode

MULTI_HOT = ActionSpec.multi_hot(
    [ActionGroup("keys", ("w", "a", "s", "d")), ActionGroup("mouse", ("-1", "0", "1"), one_hot=True)]
)


def multi_hot_episode(length: int, seed: int = 0) -> Episode:
    ep = random_episode(length, seed=seed)
    g = torch.Generator().manual_seed(seed)
    act = torch.zeros(length, MULTI_HOT.num_action_dims)
    act[:, :4] = (torch.rand(length, 4, generator=g) < 0.5).float()
    act[torch.arange(length), 4 + torch.randint(3, (length,), generator=g)] = 1.0
    return Episode(ep.obs, act, ep.rew, ep.end, ep.trunc, ep.info)


def test_a_dataset_records_its_spec_and_reads_it_back(tmp_path):
    spec = ActionSpec.discrete(4, ["NOOP", "FIRE", "RIGHT", "LEFT"])
    ds = EpisodeDataset(tmp_path / "train", action_spec=spec)
    ds.add_episode(random_episode(5, num_actions=4))
    assert json.loads((tmp_path / "train" / "action_spec.json").read_text())["names"][1] == "FIRE"
    index = load_pt(tmp_path / "train" / "info.pt", allow_numpy=True)
    assert "action_spec" not in index  # info.pt keeps exactly the published keys
    assert EpisodeDataset(tmp_path / "train").action_spec == spec
    assert EpisodeDataset(tmp_path / "train", read_only=True).action_spec == spec


def test_multi_hot_episodes_round_trip_and_pad_with_zero_vectors(tmp_path):
    ds = EpisodeDataset(tmp_path / "csgo", action_spec=MULTI_HOT)
    ep = multi_hot_episode(6)
    ds.add_episode(ep)
    again = EpisodeDataset(tmp_path / "csgo")
    assert again.action_spec == MULTI_HOT
    assert_episodes_equal(again.load_episode(0), ep)
    assert again.load_episode(0).act.dtype == torch.float32
    batch = make_batch(again, [SegmentId(0, -2, 3), SegmentId(0, 3, 8)])  # left and right padding
    assert batch.act.shape == (2, 5, 7) and batch.act.dtype == torch.float32
    assert torch.equal(batch.act[0, 2:], ep.act[:3]) and torch.equal(batch.act[1, :3], ep.act[3:])
    assert not batch.act[0, :2].any() and not batch.act[1, 3:].any()  # padding: all-zero vectors
    b = SegmentSampler(again, 3, 4, sample_weights=None, generator=torch.Generator().manual_seed(0)).sample()
    assert b.act.shape == (3, 4, 7)


def test_actions_that_do_not_fit_the_spec_are_refused_in_one_line(tmp_path):
    ds = EpisodeDataset(tmp_path / "d", action_spec=ActionSpec.discrete(3))
    with pytest.raises(
        DatasetError, match=r"^episode for dataset 'd': its actions \[3\] out of range: expected"
    ):
        ds.add_episode(random_episode(30, num_actions=4, seed=1))
    with pytest.raises(
        DatasetError, match="its actions of dtype torch.float32: expected integer indices of 3"
    ):
        ds.add_episode(multi_hot_episode(4))
    ds.add_episode(random_episode(4, num_actions=3))
    with pytest.raises(
        DatasetError, match=r"^dataset 'd' \(.*\) holds 3 actions, not the 7-dim multi-hot actions"
    ):
        EpisodeDataset(tmp_path / "d", action_spec=MULTI_HOT)
    with pytest.raises(
        ValueError, match="act must be int64 of shape \\(4,\\) or float32 of shape \\(4, D\\)"
    ):
        Episode(
            torch.zeros(4, 3, 8, 8, dtype=torch.uint8), torch.zeros(4, 2, dtype=torch.int64), *([None] * 3)
        )


def test_an_old_dataset_reads_as_before_and_its_spec_is_inferred(tmp_path, caplog):
    old = EpisodeDataset(tmp_path / "old")  # no spec given: nothing recorded, as the published code writes
    old.add_episode(random_episode(5, num_actions=3, seed=0))
    old.add_episode(random_episode(40, num_actions=6, seed=1))
    assert not (tmp_path / "old" / "action_spec.json").exists()
    ro = EpisodeDataset(tmp_path / "old", read_only=True)
    assert ro.action_spec is None
    top = max(int(ro.load_episode(i).act.max()) for i in range(2))
    assert infer_action_spec(ro) == ActionSpec.discrete(top + 1)
    with caplog.at_level("WARNING"):
        assert dataset_action_spec(ro) == ActionSpec.discrete(top + 1)
    assert f"records no action spec: {top + 1} actions inferred from its episodes" in caplog.text
    ro.set_action_spec(ActionSpec.discrete(6))  # known now, but a read-only dataset is never written
    ro.save_index()
    assert not (tmp_path / "old" / "action_spec.json").exists()
    with pytest.raises(DatasetError, match=r"its actions \[\d\] out of range: expected indices in \[0, 2\)"):
        EpisodeDataset(tmp_path / "old", action_spec=ActionSpec.discrete(2))  # its episodes say otherwise
    mh = EpisodeDataset(tmp_path / "mh")
    mh.add_episode(multi_hot_episode(3))
    assert infer_action_spec(mh).same_layout(MULTI_HOT)


def test_a_test_dataset_of_other_actions_is_refused(tmp_path):
    train = EpisodeDataset(tmp_path / "train", action_spec=ActionSpec.discrete(4))
    train.add_episode(random_episode(5, num_actions=4))
    test = EpisodeDataset(tmp_path / "test", action_spec=ActionSpec.discrete(5))
    assert dataset_action_spec(train) == ActionSpec.discrete(4)
    with pytest.raises(
        DatasetError, match=r"^test dataset .*test holds 5 actions but training dataset .* holds 4"
    ):
        dataset_action_spec(train, test)


def test_cleared_datasets_record_their_spec_again(tmp_path):
    ds = EpisodeDataset(tmp_path / "test", action_spec=ActionSpec.discrete(4))
    ds.add_episode(random_episode(5, num_actions=4))
    ds.clear()  # as before each evaluation: the folder goes
    ds.add_episode(random_episode(5, num_actions=4))
    assert EpisodeDataset(tmp_path / "test").action_spec == ActionSpec.discrete(4)
