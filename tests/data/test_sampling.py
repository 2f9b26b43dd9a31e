"""Segment sampling: slice weights, length weighting, padding masks at both ends, final observations, traverser."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from diamond_wm.data import (
    DatasetTraverser,
    EpisodeDataset,
    SegmentId,
    SegmentSampler,
    make_batch,
    to_float_frames,
)
from diamond_wm.data.sampling import episode_probabilities
from tests.data.helpers import random_episode


def _dataset(lengths, size=4, last_end=True):
    ds = EpisodeDataset()
    for i, n in enumerate(lengths):
        ds.add_episode(random_episode(n, size=size, end=last_end, seed=i))
    return ds


def test_slice_frequencies_match_weights():
    lengths = [
        5,
        30,
        7,
        12,
        9,
        40,
        3,
        8,
        20,
        11,
    ]  # 10 episodes: slices of 2, 2, 2 and 4 (remainder to the newest)
    ds = _dataset(lengths)
    sampler = SegmentSampler(ds, 4096, 4, generator=torch.Generator().manual_seed(0))
    ids = np.array([s.episode_id for _ in range(50) for s in sampler.sample_ids()])
    slices = np.array([0, 0, 1, 1, 2, 2, 3, 3, 3, 3])[ids]
    freq = np.bincount(slices, minlength=4) / len(ids)
    np.testing.assert_allclose(freq, [0.1, 0.1, 0.1, 0.7], atol=0.01)
    per_episode = np.bincount(ids, minlength=10) / len(ids)  # uniform within a slice, whatever the lengths
    np.testing.assert_allclose(per_episode[6:], 0.175, atol=0.01)


def test_length_weighting_when_fewer_episodes_than_weights_or_static():
    lengths = torch.tensor([10, 30, 60])
    np.testing.assert_allclose(episode_probabilities(lengths, (0.1, 0.1, 0.1, 0.7)), [0.1, 0.3, 0.6])
    np.testing.assert_allclose(episode_probabilities(lengths, None), [0.1, 0.3, 0.6])
    ds = _dataset([10, 30, 60, 20, 20])
    ds._is_static = True
    sampler = SegmentSampler(ds, 20000, 1, generator=torch.Generator().manual_seed(1))
    freq = np.bincount([s.episode_id for s in sampler.sample_ids()], minlength=5) / 20000
    np.testing.assert_allclose(freq, np.array([10, 30, 60, 20, 20]) / 140, atol=0.01)
    with pytest.raises(ValueError, match="sum to 1"):
        SegmentSampler(ds, 2, 2, sample_weights=[0.5, 0.6])


def test_segment_positions_and_padding_masks():
    ds = _dataset([3, 50])
    t = 6
    for beyond in (False, True):
        sampler = SegmentSampler(
            ds, 2000, t, can_sample_beyond_end=beyond, generator=torch.Generator().manual_seed(2)
        )
        ids = sampler.sample_ids()
        starts = np.array([s.start for s in ids])
        stops = np.array([s.stop for s in ids])
        lens = ds.lengths[[s.episode_id for s in ids]]
        assert (stops - starts == t).all() and (starts < lens).all() and (stops > 0).all()
        assert (stops > lens).any() == beyond  # right padding only when allowed
        assert (starts < 0).any()  # left padding at episode starts
        batch = make_batch(ds, ids[:64])
        for i, (ep_id, start, stop) in enumerate(ids[:64]):
            n = int(ds.lengths[ep_id])
            expected = torch.tensor([0 <= s < n for s in range(start, stop)])
            assert torch.equal(batch.mask_padding[i], expected)
            assert (batch.obs[i][~expected] == 0).all() and (batch.act[i][~expected] == 0).all()


def test_batch_content_dtypes_and_final_observation():
    ds = _dataset([5, 4], size=8)
    ep0, ep1 = ds.load_episode(0), ds.load_episode(1)
    batch = make_batch(ds, [SegmentId(0, -2, 3), SegmentId(1, 1, 6), SegmentId(0, 0, 5)])
    assert batch.obs.shape == (3, 5, 3, 8, 8) and batch.obs.dtype == torch.float32
    assert batch.act.dtype == torch.int64 and batch.rew.dtype == torch.float32
    assert batch.end.dtype == batch.trunc.dtype == torch.uint8 and batch.mask_padding.dtype == torch.bool
    assert torch.equal(batch.mask_padding[0], torch.tensor([False, False, True, True, True]))
    assert torch.equal(batch.obs[0, 2:], to_float_frames(ep0.obs[:3])) and (batch.obs[0, :2] == 0).all()
    assert torch.equal(batch.mask_padding[1], torch.tensor([True, True, True, False, False]))
    assert torch.equal(batch.obs[1, :3], to_float_frames(ep1.obs[1:4])) and batch.end[1].tolist() == [
        0,
        0,
        1,
        0,
        0,
    ]
    assert batch.info[0] == {}  # the segment does not reach the end of episode 0
    assert torch.equal(batch.info[1]["final_observation"], to_float_frames(ep1.final_observation))
    assert batch.info[1]["final_observation"].shape == (3, 8, 8)
    assert "final_observation" in batch.info[2]
    assert batch.segment_ids[1] == SegmentId(1, 1, 6)


def test_sampling_is_seeded():
    ds = _dataset([7, 9, 11, 13, 15])
    a = SegmentSampler(ds, 8, 4, generator=torch.Generator().manual_seed(3)).sample()
    b = SegmentSampler(ds, 8, 4, generator=torch.Generator().manual_seed(3)).sample()
    assert a.segment_ids == b.segment_ids and torch.equal(a.obs, b.obs)


def test_traverser_covers_every_step_once():
    ds = _dataset([7, 5, 1, 9])
    trav = DatasetTraverser(ds, batch_size=3, chunk_size=4)
    batches = list(trav)
    assert len(batches) == len(trav)
    ids = [s for b in batches for s in b.segment_ids]
    # 7 -> [0,4) [4,8); 5 -> [0,4) only (its last chunk has 1 step); 1 -> dropped; 9 -> [0,4) [4,8) only
    assert ids == [(0, 0, 4), (0, 4, 8), (1, 0, 4), (3, 0, 4), (3, 4, 8)]
    assert [b.obs.shape[0] for b in batches] == [3, 2]
    assert batches[0].mask_padding[1].tolist() == [True, True, True, False]
    assert [s.episode_id for b in DatasetTraverser(ds, 3, 4) for s in b.segment_ids] == [0, 0, 1, 3, 3]


def test_batch_building_is_fast():
    ds = _dataset([200] * 10, size=64)
    sampler = SegmentSampler(ds, 32, 20, generator=torch.Generator().manual_seed(4))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on a busy shared machine, intra-op threads make it 20x slower, not faster
    try:
        sampler.sample()
        t0 = time.perf_counter()
        for _ in range(10):
            sampler.sample()
        per_batch = (time.perf_counter() - t0) / 10
    finally:
        torch.set_num_threads(threads)
    # about 10 ms on one idle core; the bound is loose for shared machines
    assert per_batch < 0.25, f"{per_batch * 1000:.1f} ms per batch of 32 x 20 frames of 64 x 64"


def test_a_padded_batch_keeps_its_segments_and_masks_the_padding():
    batch = make_batch(_dataset([7, 5]), [SegmentId(0, 0, 4), SegmentId(1, 2, 6)])
    padded = batch.padded(3)
    assert padded.obs.shape[0] == padded.act.shape[0] == padded.mask_padding.shape[0] == 3
    for name in ("obs", "act", "rew", "end", "trunc", "mask_padding"):
        assert torch.equal(getattr(padded, name)[:2], getattr(batch, name)), name
        assert not getattr(padded, name)[2].any(), name  # zeros, all of it padding
    assert batch.padded(2) is batch
    with pytest.raises(
        ValueError, match=r"cannot pad a batch of 2 segments to size=1: expected an integer >= 2"
    ):
        batch.padded(1)
