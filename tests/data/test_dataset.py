"""Dataset folders: close/reopen, published layout, atomic index, counters, errors naming files."""

from __future__ import annotations

import io
import pickle
from collections import Counter

import numpy as np
import pytest
import torch

from diamond_wm.data import (
    DatasetError,
    EpisodeDataset,
    EpisodeFileError,
    IndexFileError,
    ReadOnlyDatasetError,
    episode_relpath,
    to_float_frames,
)
from diamond_wm.data.published_layout import read_index, scan_episode_ids
from diamond_wm.data.storage import load_pt
from tests.data.helpers import assert_episodes_equal, random_episode


def test_episode_paths_follow_the_published_layout():
    assert str(episode_relpath(1234)) == "200/30/4/1234.pt"
    assert str(episode_relpath(7)) == "000/00/7/7.pt"
    assert str(episode_relpath(56789)) == "700/80/9/56789.pt"
    with pytest.raises(ValueError, match="-1"):
        episode_relpath(-1)


def test_write_close_reopen_identical(tmp_path):
    ds = EpisodeDataset(tmp_path / "train")
    episodes = [random_episode(5 + i, end=i % 2 == 0, seed=i) for i in range(5)]
    for ep in episodes:
        ds.add_episode(ep)
    counts_rew, counts_end = ds.counts_rew, ds.counts_end
    ds.close()
    assert sorted(p.name for p in (tmp_path / "train").rglob("*") if p.is_file())[-1] == "info.pt"
    assert not list((tmp_path / "train").rglob("*.tmp"))

    re = EpisodeDataset(tmp_path / "train")
    assert re.num_episodes == 5 and re.num_steps == sum(len(e) for e in episodes)
    assert re.lengths.tolist() == [len(e) for e in episodes] and re.start_idx.tolist() == [0, 5, 11, 18, 26]
    assert re.counts_rew == counts_rew and re.counts_end == counts_end == [sum(map(len, episodes)) - 3, 3]
    for i, ep in enumerate(episodes):
        assert_episodes_equal(re.load_episode(i), ep)
    disk = EpisodeDataset(tmp_path / "train", cache_in_ram=False)  # read from disk at each access
    assert_episodes_equal(disk.load_episode(4), episodes[4])


def test_counters_and_extension(tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    first = random_episode(4, seed=1)
    i = ds.add_episode(first)
    tail = random_episode(3, end=True, seed=2)
    ds.extend_episode(i, tail)
    full = first.append(tail)
    assert_episodes_equal(ds.load_episode(i), full)
    signs = full.rew.sign()
    assert ds.counts_rew == [int((signs == v).sum()) for v in (-1, 0, 1)]
    assert ds.counts_end == [6, 1] and ds.num_steps == 7
    with pytest.raises(ValueError, match="cannot extend"):
        ds.extend_episode(i, tail)
    j = ds.add_episode(random_episode(2, seed=3))
    assert ds.mark_truncated(j) and ds.load_episode(j).trunc[-1] == 1 and not ds.mark_truncated(j)
    assert_episodes_equal(EpisodeDataset(tmp_path / "d").load_episode(i), full)
    with pytest.raises(ValueError, match="frame shape"):
        ds.add_episode(random_episode(2, size=4))
    with pytest.raises(ValueError, match="episode_id 9 out of range"):
        ds.load_episode(9)


def test_ram_only_dataset():
    ds = EpisodeDataset()
    ds.add_episode(random_episode(3))
    assert ds.num_steps == 3 and ds.directory is None
    with pytest.raises(ValueError, match="RAM only"):
        ds.episode_path(0)
    with pytest.raises(ValueError, match="cache_in_ram"):
        EpisodeDataset(None, cache_in_ram=False)


def test_index_older_than_episode_files_wins(tmp_path):
    """A crash (or a resume from an older checkpoint) after episode files were written but before the index."""
    ds = EpisodeDataset(tmp_path / "d", autosave_index=False)
    first = random_episode(4, seed=1)
    ds.add_episode(first)
    ds.save_index()
    ds.extend_episode(0, random_episode(3, seed=2))  # file rewritten, index not
    ds.add_episode(random_episode(2, seed=3))  # file written, index not
    re = EpisodeDataset(tmp_path / "d")
    assert re.num_episodes == 1 and re.lengths.tolist() == [4]
    assert_episodes_equal(re.load_episode(0), first)


def test_missing_or_truncated_episode_file_named(tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    for i in range(3):
        ds.add_episode(random_episode(4, seed=i))
    ds.close()
    path = tmp_path / "d" / "000/00/1/1.pt"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(EpisodeFileError) as e:
        EpisodeDataset(tmp_path / "d").load_episode(1)
    assert e.value.path == path
    path.unlink()
    with pytest.raises(EpisodeFileError, match="not found") as e:
        EpisodeDataset(tmp_path / "d").load_episode(1)
    assert e.value.path == path
    (tmp_path / "d" / "info.pt").unlink()  # rebuilding finds a hole in the ids
    with pytest.raises(EpisodeFileError, match="not found") as e:
        EpisodeDataset(tmp_path / "d")
    assert e.value.path == path


def test_corrupted_index_and_rebuild(tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    for i in range(3):
        ds.add_episode(random_episode(3 + i, end=True, seed=i))
    counts = ds.counts_rew, ds.counts_end
    ds.close()
    (tmp_path / "d" / "info.pt").write_bytes(b"garbage")
    with pytest.raises(IndexFileError, match="move it away: the index is then rebuilt") as e:
        EpisodeDataset(tmp_path / "d")
    assert e.value.path == tmp_path / "d" / "info.pt"
    re = EpisodeDataset(tmp_path / "d", rebuild_index=True)
    assert re.lengths.tolist() == [3, 4, 5] and (re.counts_rew, re.counts_end) == counts
    assert read_index(tmp_path / "d" / "info.pt").num_steps == 12  # rewritten


def _write_published_folder(root, episodes, numpy_module=None):
    """A dataset folder exactly as the published implementation writes it (Counter, numpy arrays, float final obs)."""
    for i, ep in enumerate(episodes):
        d = {
            "obs": ep.obs,
            "act": ep.act,
            "rew": ep.rew,
            "end": ep.end,
            "trunc": ep.trunc,
            "info": {"final_observation": to_float_frames(ep.final_observation)}
            if ep.final_observation is not None
            else {},
        }
        path = root / episode_relpath(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(d, path)
    lengths = np.array([len(e) for e in episodes])
    info = {
        "is_static": False,
        "num_episodes": len(episodes),
        "num_steps": lengths.sum(),  # a numpy scalar
        "start_idx": np.concatenate(([0], np.cumsum(lengths)[:-1])),
        "lengths": lengths,
        "counter_rew": Counter(
            sum((e.rew.sign().tolist() for e in episodes), [])
        ),  # float keys, as published
        "counter_end": Counter(sum((e.end.tolist() for e in episodes), [])),
    }
    if numpy_module is None:
        torch.save(info, root / "info.pt")
    else:  # legacy (non-zip) format, with the numpy 1 module name of `_reconstruct`
        buf = io.BytesIO()
        torch.save(info, buf, _use_new_zipfile_serialization=False, pickle_protocol=2)
        assert b"numpy._core.multiarray" in buf.getvalue()
        raw = buf.getvalue().replace(b"numpy._core.multiarray", numpy_module.encode())
        (root / "info.pt").write_bytes(raw)


@pytest.mark.parametrize("numpy_module", [None, "numpy.core.multiarray"])
def test_reads_published_folder(tmp_path, numpy_module):
    episodes = [random_episode(6 + i, end=i == 1, trunc=i == 2, seed=i, size=64) for i in range(3)]
    _write_published_folder(tmp_path, episodes, numpy_module)
    with pytest.raises(pickle.UnpicklingError):  # what plain weights_only refuses: the numpy arrays
        torch.load(tmp_path / "info.pt", weights_only=True)
    ds = EpisodeDataset(tmp_path, read_only=True)
    assert ds.num_episodes == 3 and ds.lengths.tolist() == [6, 7, 8] and ds.is_static
    assert ds.counts_end == [20, 1] and sum(ds.counts_rew) == 21
    for i, ep in enumerate(episodes):
        assert_episodes_equal(ds.load_episode(i), ep)
    with pytest.raises(ReadOnlyDatasetError):
        ds.add_episode(episodes[0])


def test_our_index_has_the_published_keys_and_types(tmp_path):
    ds = EpisodeDataset(tmp_path)
    ds.add_episode(random_episode(3, end=True))
    d = load_pt(tmp_path / "info.pt", allow_numpy=True)
    assert set(d) == {
        "is_static",
        "num_episodes",
        "num_steps",
        "start_idx",
        "lengths",
        "counter_rew",
        "counter_end",
    }
    assert isinstance(d["lengths"], np.ndarray) and d["lengths"].dtype == np.int64
    assert isinstance(d["counter_rew"], Counter) and d["counter_end"][1] == 1
    assert scan_episode_ids(tmp_path) == [0]


def test_a_dataset_without_episodes_reads_back(tmp_path):
    """The index of an empty dataset holds empty numpy arrays, which protocol 2 pickles with builtins.bytes."""
    from diamond_wm.data.published_layout import DatasetIndex, write_index

    write_index(tmp_path / "info.pt", DatasetIndex(is_static=True))
    index = read_index(tmp_path / "info.pt")
    assert index.num_episodes == 0 and index.num_steps == 0 and index.is_static
    ds = EpisodeDataset(tmp_path, read_only=True)
    assert ds.num_episodes == 0 and ds.num_steps == 0


def test_rollback_to_checkpointed_lengths(tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    first = random_episode(4, seed=1)
    ds.add_episode(first)
    ds.add_episode(random_episode(3, end=True, seed=2))
    saved = ds.lengths.tolist()
    counts = ds.counts_rew, ds.counts_end
    ds.extend_episode(0, random_episode(5, end=True, seed=3))  # collection after the checkpoint
    ds.add_episode(random_episode(6, end=True, seed=4))
    ds.rollback(saved)
    assert ds.lengths.tolist() == [4, 3] and (ds.counts_rew, ds.counts_end) == counts
    assert_episodes_equal(ds.load_episode(0), first)
    re = EpisodeDataset(tmp_path / "d")
    assert re.lengths.tolist() == [4, 3] and (re.counts_rew, re.counts_end) == counts
    assert_episodes_equal(re.load_episode(0), first)
    assert scan_episode_ids(tmp_path / "d") == [0, 1]
    with pytest.raises(DatasetError, match="episode 1 has 3 steps, cannot roll back to 5"):
        ds.rollback([4, 5])
    with pytest.raises(DatasetError, match="cannot roll back to 3 episodes"):
        ds.rollback([4, 3, 1])
