"""Episodes shared out between the ranks of a multi-process run, and the follower view of rank 0's dataset."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.data.sampling import SegmentSampler, episode_probabilities, shard_probabilities


def test_a_rank_draws_its_episodes_with_the_weights_renormalised():
    p = episode_probabilities(torch.tensor([5, 5, 5, 5, 5, 5, 5, 5]), [0.1, 0.1, 0.1, 0.7])  # slices of 2
    mine = shard_probabilities(p, 1, 2)  # episodes 1, 3, 5, 7
    assert mine[0::2].eq(0).all()
    expected = p[1::2] / p[1::2].sum()
    torch.testing.assert_close(mine[1::2], expected)
    assert float(mine.sum()) == pytest.approx(1.0)
    # Summed over the ranks (each weighted by its share), the draws are those of one process.
    total = sum(shard_probabilities(p, r, 2) * p[r::2].sum() for r in range(2))
    torch.testing.assert_close(total, p)


def test_a_rank_without_episode_draws_from_all():
    p = episode_probabilities(torch.tensor([4, 6]), None)
    torch.testing.assert_close(shard_probabilities(p, 2, 3), p)  # 2 episodes, rank 2 of 3: none its own
    q = torch.tensor([0.0, 1.0])  # its only episode has weight 0
    torch.testing.assert_close(shard_probabilities(q, 0, 2), q)


def test_a_sampler_of_one_shard_draws_only_its_episodes(tmp_path):
    ds = EpisodeDataset(None)
    for n in (5, 6, 7, 8, 9):
        ds.add_episode(_episode(n))
    sampler = SegmentSampler(ds, 64, 3, None, generator=torch.Generator().manual_seed(0), shard=(1, 2))
    assert {sid.episode_id for sid in sampler.sample_ids()} == {1, 3}
    with pytest.raises(ValueError, match=r"shard must be \(rank, world_size\)"):
        SegmentSampler(ds, 2, 3, shard=(2, 2))


def test_a_follower_reads_the_writers_episodes_by_its_index(tmp_path):
    writer = EpisodeDataset(tmp_path / "train")
    writer.add_episode(_episode(5))
    follower = EpisodeDataset(tmp_path / "train", cache_in_ram=True, follower=True)
    assert follower.num_episodes == 0 and not follower.is_static  # nothing read until told
    follower.follow_index(writer.lengths.tolist())
    assert len(follower.load_episode(0)) == 5
    writer.extend_episode(0, _episode(3))  # the writer's episode grows; the follower's RAM copy is dropped
    writer.add_episode(_episode(4))
    follower.follow_index(writer.lengths.tolist())
    assert [len(follower.load_episode(i)) for i in range(2)] == [8, 4]
    with pytest.raises(Exception, match="read-only"):
        follower.add_episode(_episode(2))
    with pytest.raises(ValueError, match="not a follower"):
        writer.follow_index([1])


def test_a_disk_backed_follower_reads_an_episode_that_grew_through_its_new_file(tmp_path):
    writer = EpisodeDataset(tmp_path / "train", cache_in_ram=False)
    writer.add_episode(_episode(5))
    follower = EpisodeDataset(tmp_path / "train", cache_in_ram=False, follower=True)
    follower.follow_index(writer.lengths.tolist())
    assert len(follower.load_steps(0, 1, 4)) == 3  # a partial read: the file's layout is kept
    writer.extend_episode(0, _episode(3, value=7))  # rank 0 rewrites the file: 8 steps
    follower.follow_index(writer.lengths.tolist())
    steps = follower.load_steps(0, 4, 8)  # beyond the 5 steps of the layout read before
    assert len(steps) == 4 and steps.obs[-1].eq(7).all()


def _episode(n: int, value: int = 0) -> Episode:
    return Episode(
        obs=torch.full((n, 3, 4, 4), value, dtype=torch.uint8),
        act=torch.zeros(n, dtype=torch.long),
        rew=torch.zeros(n),
        end=torch.zeros(n, dtype=torch.uint8),
        trunc=torch.zeros(n, dtype=torch.uint8),
    )
