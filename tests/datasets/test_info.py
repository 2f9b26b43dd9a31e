"""`describe` and `verify` of dataset folders: what they hold, and every damaged file named."""

from __future__ import annotations

import pytest

from diamond_wm.conversion.csgo_convert import convert_csgo
from diamond_wm.data import EpisodeDataset
from diamond_wm.data.published_layout import episode_relpath
from diamond_wm.datasets.info import describe, find_datasets, verify
from tests.data.helpers import random_episode


@pytest.fixture
def converted(csgo_tars, tmp_path):
    out = tmp_path / "out"
    convert_csgo(csgo_tars, out, full_res_copy=True, progress=False)
    return out


def test_describe_a_converted_folder(converted):
    lines = describe(converted)
    assert lines[0].startswith(f"{converted}: converted by diamond dataset (csgo), state complete")
    train = next(line for line in lines if line.startswith("low_res/train:"))
    assert "2 episodes, 24 steps (lengths 12-12), frames 3x30x56, actions: 51-dim multi-hot" in train
    assert "rewards -1/0/+1: 0/24/0, ends 0" in train
    assert any(
        line.startswith("full_res/test: 1 episode, 12 steps (lengths 12-12), frames 3x150x280")
        for line in lines
    )


def test_describe_a_dataset_without_a_recorded_spec(tmp_path):
    ds = EpisodeDataset(tmp_path / "train")
    ds.add_episode(random_episode(5, end=True))
    ds.close()
    (line,) = describe(tmp_path / "train")
    assert line.startswith("train: 1 episode, 5 steps (lengths 5-5), frames 3x8x8, actions: not recorded (")
    assert "actions by the first episode), rewards -1/0/+1: " in line and line.endswith("ends 1")
    assert find_datasets(tmp_path) == [tmp_path / "train"]


def test_verify_passes_on_a_whole_conversion(converted):
    result = verify(converted, progress=False)
    assert result.problems == [] and len(result.checked) == 4


def test_verify_names_a_truncated_episode_file(converted):
    path = converted / "low_res" / "train" / episode_relpath(1)
    path.write_bytes(path.read_bytes()[:1000])
    result = verify(converted, progress=False)
    assert len(result.problems) == 1 and result.problems[0].startswith(f"episode file {path}: unreadable")


def test_verify_names_an_episode_that_disagrees_with_its_index(converted):
    folder = converted / "full_res" / "test"
    ds = EpisodeDataset(folder, read_only=True)
    shorter = ds.load_episode(0).head(7)
    shorter.save(folder / episode_relpath(0))
    result = verify(converted, progress=False)
    assert result.problems == [
        f"episode file {folder / episode_relpath(0)}: 7 steps but {folder / 'info.pt'} says 12"
    ]


def test_verify_names_a_missing_episode_and_a_bad_action(converted, tmp_path):
    (converted / "low_res" / "test" / episode_relpath(0)).unlink()
    folder = converted / "full_res" / "train"
    ep = EpisodeDataset(folder, read_only=True).load_episode(0)
    ep.act[3, 13:] = 0  # no mouse bin
    ep.save(folder / episode_relpath(0))
    problems = verify(converted, progress=False).problems
    assert len(problems) == 2
    assert (
        problems[0] == f"episode file {converted / 'low_res' / 'test' / episode_relpath(0)}: file not found"
    )
    assert problems[1].startswith(f"episode file {folder / episode_relpath(0)}: its actions: 0 hot entries")


def test_no_dataset_is_one_line(tmp_path):
    with pytest.raises(ValueError, match=f"{tmp_path}: no dataset"):
        describe(tmp_path)


def test_verify_names_an_index_whose_counts_disagree_with_the_episodes(converted):
    from collections import Counter

    from diamond_wm.data.published_layout import read_index, write_index

    path = converted / "low_res" / "train" / "info.pt"
    index = read_index(path)
    index.counter_rew = Counter({-1: 0, 0: 20, 1: 4})
    write_index(path, index)
    (problem,) = verify(converted, progress=False).problems
    assert problem.startswith(f"{path}: reward/end counts {{-1: 0, 0: 20, 1: 4}}/")
    assert "but the episodes hold {-1: 0, 0: 24, 1: 0}/" in problem
