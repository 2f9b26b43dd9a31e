"""Disk-backed batches (`SegmentLoader`): DataLoader workers read what the training process draws, so the batches
are those of the in-RAM path for the same seed; full-resolution frames come per segment."""

from __future__ import annotations

import logging

import pytest
import torch

from diamond_wm.data import EpisodeDataset
from diamond_wm.data.loader import SegmentLoader
from diamond_wm.data.sampling import SegmentSampler
from tests.data.helpers import random_episode


def write_dataset(directory, lengths, size=8, seed=0):
    ds = EpisodeDataset(directory)
    for i, n in enumerate(lengths):
        ds.add_episode(random_episode(n, size=size, seed=seed + i, end=i % 2 == 0))
    ds.save_index()
    return EpisodeDataset(directory, cache_in_ram=False, read_only=True)


def assert_batches_equal(a, b):
    for k in ("obs", "act", "rew", "end", "trunc", "mask_padding"):
        assert torch.equal(getattr(a, k), getattr(b, k)), k
    assert a.segment_ids == b.segment_ids
    if a.full_res is None:
        assert b.full_res is None
    else:
        assert torch.equal(a.full_res, b.full_res)


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_read_the_segments_the_in_ram_path_draws(tmp_path, workers):
    ds = write_dataset(tmp_path / "train", [5, 9, 12, 3])
    ram = EpisodeDataset(tmp_path / "train", read_only=True)
    expected = SegmentSampler(ram, 3, 6, None, generator=torch.Generator().manual_seed(7))
    loader = SegmentLoader(
        SegmentSampler(ds, 3, 6, None, generator=torch.Generator().manual_seed(7)), workers
    )
    global_rng = torch.random.get_rng_state()
    loader.prepare(4)
    for _ in range(4):
        assert_batches_equal(loader(), expected.sample())
    assert torch.equal(torch.random.get_rng_state(), global_rng)  # the training noise stream is untouched
    # After the phase, and without one, batches are drawn and read in this process, from the same stream.
    assert_batches_equal(loader(), expected.sample())
    assert loader.sampler.generator.get_state().equal(expected.generator.get_state())


def test_full_resolution_frames_come_with_each_segment(tmp_path):
    low = write_dataset(tmp_path / "low", [10, 10], size=4)
    full = write_dataset(tmp_path / "full", [10, 10], size=12, seed=100)
    sampler = SegmentSampler(low, 8, 3, None, generator=torch.Generator().manual_seed(0))
    loader = SegmentLoader(sampler, 2, full_res_dataset=full)
    loader.prepare(1)
    batch = loader()
    assert batch.obs.shape == (8, 3, 3, 4, 4) and batch.full_res.shape == (8, 3, 3, 12, 12)
    for i, (episode_id, start, stop) in enumerate(batch.segment_ids):
        ep = full.load_episode(episode_id)
        for j, step in enumerate(range(start, stop)):
            if 0 <= step < len(ep):  # its own frames, even when another segment comes from the same episode
                assert torch.equal(batch.full_res[i, j], ep.obs[step].float() / 255 * 2 - 1)
            else:
                assert not batch.full_res[i, j].any()


def test_bad_worker_counts_are_refused(tmp_path):
    ds = write_dataset(tmp_path / "train", [5])
    with pytest.raises(ValueError, match="num_workers must be an integer >= 1, got 0"):
        SegmentLoader(SegmentSampler(ds, 1, 2, None), 0)
    with pytest.raises(ValueError, match="needs a dataset with a directory"):
        SegmentLoader(SegmentSampler(EpisodeDataset(None), 1, 2, None), 1)


def test_workers_open_the_dataset_without_logging_it_again(tmp_path, caplog):
    """The workers start again at every phase: the dataset's log line was once per worker and phase."""
    ds = write_dataset(tmp_path / "train", [5, 9])
    log_file = tmp_path / "log"
    handler = logging.FileHandler(log_file)  # forked workers inherit it: their records land in the file
    caplog.set_level(logging.INFO)
    logging.getLogger().addHandler(handler)
    try:
        loader = SegmentLoader(SegmentSampler(ds, 2, 4, None, generator=torch.Generator().manual_seed(0)), 2)
        for _ in range(2):  # two phases
            loader.prepare(2)
            loader(), loader()
        handler.flush()
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert "EpisodeDataset(" not in log_file.read_text()
    EpisodeDataset(tmp_path / "train", cache_in_ram=False, read_only=True)  # opened in the run: logged
    assert caplog.text.count("EpisodeDataset(") == 1
