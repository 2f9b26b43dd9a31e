"""Segments around rewarded steps: the index follows a growing (or rolled-back) dataset, the segments hold their
rewarded step among the transitions a loss counts, the other segments are drawn as without the share."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.data import EpisodeDataset, SegmentSampler
from diamond_wm.data.rewarded_steps import RewardedSteps, segments_around
from tests.data.helpers import random_episode


def _episode(length: int, rewarded: dict[int, float], seed: int = 0):
    ep = random_episode(length, size=4, seed=seed)
    ep.rew.zero_()
    for t, r in rewarded.items():
        ep.rew[t] = r
    return ep


def _expected(ds: EpisodeDataset, episodes=None) -> set[tuple[int, int]]:
    ids = range(ds.num_episodes) if episodes is None else episodes
    return {(e, int(t)) for e in ids for t in torch.nonzero(ds.load_episode(e).rew).flatten().tolist()}


def test_the_index_follows_added_grown_and_rolled_back_episodes():
    ds = EpisodeDataset()
    ds.add_episode(_episode(10, {2: 1.0, 7: -1.0}))
    index = RewardedSteps(ds)
    assert {tuple(r) for r in index.refresh().tolist()} == {(0, 2), (0, 7)}
    ds.add_episode(_episode(6, {}, seed=1))  # no reward: nothing added
    ds.add_episode(_episode(5, {0: 3.0}, seed=2))
    assert {tuple(r) for r in index.refresh().tolist()} == _expected(ds) == {(0, 2), (0, 7), (2, 0)}
    ds.extend_episode(1, _episode(4, {1: 1.0, 3: -2.0}, seed=3))  # steps 6..9 of episode 1
    assert {tuple(r) for r in index.refresh().tolist()} == _expected(ds)
    assert (1, 7) in _expected(ds) and (1, 9) in _expected(ds)
    ds.rollback([5, 6])  # episode 0 cut to 5 steps (its step 7 gone), episode 1 back to 6, episode 2 gone
    assert {tuple(r) for r in index.refresh().tolist()} == _expected(ds) == {(0, 2)}
    assert len(index) == 1


def test_a_ranks_index_holds_only_its_episodes():
    ds = EpisodeDataset()
    for i in range(4):
        ds.add_episode(_episode(8, {i: 1.0}, seed=i))
    index = RewardedSteps(ds, lambda n: range(1, n, 2))
    assert {tuple(r) for r in index.refresh().tolist()} == {(1, 1), (3, 3)}


def test_segments_hold_their_rewarded_step_among_the_counted_transitions():
    rewarded = torch.tensor([[0, 5], [3, 0], [2, 40]])
    g = torch.Generator().manual_seed(0)
    ep, start, stop = segments_around(rewarded, 2000, 6, g)
    assert torch.equal(stop - start, torch.full((2000,), 6))
    pos = {(int(e), int(s)) for e, s in zip(ep, start, strict=True)}
    for e, step in rewarded.tolist():
        offsets = {step - s for (ee, s) in pos if ee == e}
        assert offsets == set(range(5))  # every position but the last (no next frame there)
    with pytest.raises(ValueError, match="seq_length >= 2, got 1"):
        segments_around(rewarded, 1, 1, g)


def test_the_sampler_places_its_share_first_and_draws_the_rest_as_without_it():
    ds = EpisodeDataset()
    for i in range(6):
        ds.add_episode(_episode(50, {10 + i: 1.0} if i % 2 else {}, seed=i))
    plain = SegmentSampler(ds, 8, 5, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(3))
    share = SegmentSampler(
        ds, 8, 5, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(3), rewarded_share=0.5
    )
    assert share.sample_ids()[4:] == plain.sample_ids()[4:]  # same draws (the share's come after them)
    for _ in range(20):
        b = share.sample_ids()
        for e, start, stop in b[:4]:
            assert e % 2 == 1 and start <= 10 + e < stop - 1  # the rewarded step, before the last position
        batch = share.sample()
        assert (batch.rew[:4, :-1] != 0).any(dim=1).all()


def test_without_rewards_the_share_is_drawn_as_the_others():
    ds = EpisodeDataset()
    ds.add_episode(_episode(30, {}))
    plain = SegmentSampler(ds, 4, 5, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(1))
    share = SegmentSampler(
        ds, 4, 5, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(1), rewarded_share=0.75
    )
    assert share.sample_ids() == plain.sample_ids()
    ds.add_episode(_episode(30, {4: -1.0}, seed=1))  # the first reward arrives: the next batch uses it
    assert all(e == 1 and start <= 4 < stop - 1 for e, start, stop in share.sample_ids()[:3])


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"rewarded_share": 1.0, "can_sample_beyond_end": True},
            r"rewarded_share must be in \[0, 1\), got 1.0",
        ),
        ({"rewarded_share": -0.1, "can_sample_beyond_end": True}, r"in \[0, 1\), got -0.1"),
        ({"rewarded_share": 0.5}, "needs can_sample_beyond_end=True"),
    ],
)
def test_bad_shares_are_refused(kwargs, message):
    ds = EpisodeDataset()
    ds.add_episode(_episode(10, {1: 1.0}))
    with pytest.raises(ValueError, match=message):
        SegmentSampler(ds, 4, 5, **kwargs)
