"""Resuming rolls the collected datasets back to the checkpoint's episode lengths; a run killed during an
evaluation (which empties the test dataset first) resumes with an empty test dataset instead of failing."""

from __future__ import annotations

import pytest

from diamond_wm.data.dataset import DatasetError, EpisodeDataset
from diamond_wm.training.run_state import restore_datasets
from tests.data.helpers import random_episode


def dataset_of(tmp_path, name: str, lengths: list[int]) -> EpisodeDataset:
    ds = EpisodeDataset(tmp_path / name, name=name)
    for i, n in enumerate(lengths):
        ds.add_episode(random_episode(n, size=8, seed=i, num_actions=3))
    ds.save_index()
    return ds


def test_a_test_dataset_emptied_by_an_interrupted_evaluation_restarts_empty(tmp_path):
    train, test = dataset_of(tmp_path, "train", [5, 7]), dataset_of(tmp_path, "test", [])
    restore_datasets(train, test, {"train": [5, 4], "test": [6]})  # the checkpoint saw one test episode
    assert train.lengths.tolist() == [5, 4] and test.num_episodes == 0


def test_datasets_that_grew_since_the_checkpoint_are_rolled_back(tmp_path):
    train, test = dataset_of(tmp_path, "train", [5, 7, 3]), dataset_of(tmp_path, "test", [4, 6])
    restore_datasets(train, test, {"train": [5, 7], "test": [4]})
    assert train.lengths.tolist() == [5, 7] and test.lengths.tolist() == [4]


def test_a_train_dataset_with_fewer_episodes_than_recorded_is_still_refused(tmp_path):
    train, test = dataset_of(tmp_path, "train", [5]), dataset_of(tmp_path, "test", [])
    with pytest.raises(DatasetError, match="cannot roll back to 2 episodes, it holds 1"):
        restore_datasets(train, test, {"train": [5, 3], "test": []})
