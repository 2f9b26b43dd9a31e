"""An index of a dataset's rewarded steps, to place some training segments around them.

A game whose rewards are rare (Boxing's random play: one step in 33) gives a reward/termination model few rewarded
transitions per batch; `SegmentSampler(rewarded_share=P)` places round(P * B) segments of each batch around
rewarded steps, drawn uniformly among those of its episodes. The index follows a growing dataset: at each draw it
reads the rewards of the steps added since the last one (new episodes, or episodes that grew), never again those it
has read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

import torch

from diamond_wm.data.dataset import EpisodeDataset


class RewardedSteps:
    """(episode id, step) of every step with a non-zero reward among `episodes` of `dataset` (all when None).

    `episodes`: a function of the number of episodes giving the ids to index (a rank's share of them). An episode
    found shorter than when it was read (a dataset rolled back) is read again from its start."""

    def __init__(
        self, dataset: EpisodeDataset, episodes: Optional[Callable[[int], Sequence[int]]] = None
    ) -> None:
        self.dataset = dataset
        self.episodes = episodes
        self._read: dict[int, int] = {}  # episode id -> steps whose rewards were read
        self._steps: dict[int, torch.Tensor] = {}  # episode id -> its rewarded steps (n,)
        self._all: Optional[torch.Tensor] = None

    def refresh(self) -> torch.Tensor:
        """(N, 2) int64 (episode id, step) of the rewarded steps, after reading the rewards of new steps."""
        lengths = self.dataset.lengths
        ids = range(len(lengths)) if self.episodes is None else self.episodes(len(lengths))
        for e in [e for e in self._read if e >= len(lengths)]:  # episodes gone (rolled back)
            self._forget(e)
        for e in ids:
            seen, length = self._read.get(e, 0), int(lengths[e])
            if length < seen:
                self._forget(e)
                seen = 0
            if length == seen:
                continue
            new = torch.nonzero(self.dataset.load_steps(e, seen, length).rew).flatten() + seen
            if new.numel():
                self._steps[e] = torch.cat((self._steps[e], new)) if e in self._steps else new
                self._all = None
            self._read[e] = length
        if self._all is None:
            rows = [torch.stack((torch.full_like(s, e), s), dim=1) for e, s in sorted(self._steps.items())]
            self._all = torch.cat(rows) if rows else torch.zeros(0, 2, dtype=torch.long)
        return self._all

    def _forget(self, episode_id: int) -> None:
        self._read.pop(episode_id, None)
        if self._steps.pop(episode_id, None) is not None:
            self._all = None

    def __len__(self) -> int:
        return len(self.refresh())


def segments_around(
    rewarded: torch.Tensor, k: int, seq_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(episode ids, starts, stops), each (k,), of k segments of `seq_length` steps, each around a rewarded step
    drawn uniformly from `rewarded` (N, 2), the step at a uniform position among the segment's first
    seq_length - 1 steps: the transitions a reward/termination loss counts (the last step has no next frame)."""
    if seq_length < 2:
        raise ValueError(f"segments around rewarded steps need seq_length >= 2, got {seq_length}")
    pick = rewarded[torch.randint(len(rewarded), (k,), generator=generator)]  # (k, 2)
    offset = torch.randint(0, seq_length - 1, (k,), generator=generator)
    start = pick[:, 1] - offset
    return pick[:, 0], start, start + seq_length
