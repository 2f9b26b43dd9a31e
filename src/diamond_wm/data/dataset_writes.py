"""What changes an `EpisodeDataset` (`diamond_wm.data.dataset`): adding, extending and truncating episodes, and
rolling back to an earlier state; the reward/end counters those keep up to date. Each episode file is written
before the index, so a crash leaves the previous consistent state or the new one."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from typing import Optional

import torch

from diamond_wm.data.action_specs import check_actions
from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import DatasetError
from diamond_wm.runtime.memory import release_freed_memory

log = logging.getLogger("diamond_wm.data.dataset")

REW_SIGNS = (-1, 0, 1)
END_VALUES = (0, 1)


def _count(x: torch.Tensor, values: tuple[int, ...]) -> Counter:
    return Counter({v: int((x == v).sum().item()) for v in values})


class EpisodeWrites:
    """The writing half of `EpisodeDataset` (its state: `_lengths`, `_cache`, `_files`, the counters)."""

    def add_episode(self, episode: Episode, *, episode_id: Optional[int] = None) -> int:
        """Store a new episode (`episode_id=None`), or replace episode `episode_id` by a longer version of it.

        Returns the episode's id. The episode file is written before the index.
        """
        self._check_writable()
        if not isinstance(episode, Episode):
            raise ValueError(f"expected an Episode, got {type(episode).__name__}")
        episode = Episode(
            *(getattr(episode, k).detach().cpu() for k in ("obs", "act", "rew", "end", "trunc")),
            info={k: v.detach().cpu() if torch.is_tensor(v) else v for k, v in episode.info.items()},
        )
        shape = self.frame_shape
        if shape is not None and episode.frame_shape != shape:
            raise ValueError(f"frame shape {episode.frame_shape} differs from the dataset's {shape}")
        if self._action_spec is not None:
            check_actions(episode.act, self._action_spec, f"episode for dataset {self.name!r}")
        if episode_id is None:
            episode_id = self.num_episodes
            old = None
        else:
            episode_id = self._check_id(episode_id)
            old = self.load_episode(episode_id)
        if self.directory is not None:
            episode.save(self.episode_path(episode_id))
            self._files.pop(episode_id, None)
        if old is not None:
            self.counter_rew.subtract(_count(old.rew.sign(), REW_SIGNS))
            self.counter_end.subtract(_count(old.end, END_VALUES))
            self._lengths[episode_id] = len(episode)
        else:
            self._lengths.append(len(episode))
        self._lengths_np = None
        self.counter_rew.update(_count(episode.rew.sign(), REW_SIGNS))
        self.counter_end.update(_count(episode.end, END_VALUES))
        if self.cache_in_ram:
            self._cache[episode_id] = episode
            if old is not None:
                del old
                release_freed_memory()
        self._frame_shape = episode.frame_shape
        if self.autosave_index:
            self.save_index()
        return episode_id

    def extend_episode(self, episode_id: int, tail: Episode) -> None:
        """Append the next steps `tail` to the unfinished episode `episode_id`."""
        self.add_episode(self.load_episode(episode_id).append(tail), episode_id=episode_id)

    def mark_truncated(self, episode_id: int) -> bool:
        """Close an unfinished episode that will not be continued (its last step gets `trunc=1`).

        Returns False (and changes nothing) when the episode was already finished.
        """
        ep = self.load_episode(episode_id)
        if ep.is_finished:
            return False
        self.add_episode(ep.with_truncation(), episode_id=episode_id)
        return True

    def rollback(self, lengths: Sequence[int]) -> None:
        """Return to an earlier state of this dataset, described by the episode lengths recorded then (e.g. in a
        checkpoint): later episodes are deleted and longer episodes are cut back to their recorded length.

        Collection only appends, so the earlier state is a prefix of the current one; anything else raises
        `DatasetError` naming the episode. The index is written before the episode files are changed, so a crash
        in between leaves a dataset that reads as the rolled-back one.
        """
        self._check_writable()
        lengths = [int(n) for n in lengths]
        if len(lengths) > self.num_episodes:
            raise DatasetError(
                f"dataset {self.name!r}: cannot roll back to {len(lengths)} episodes, it holds {self.num_episodes}"
            )
        for i, n in enumerate(lengths):
            if not 1 <= n <= self._lengths[i]:
                raise DatasetError(
                    f"dataset {self.name!r}: episode {i} has {self._lengths[i]} steps, cannot roll back to {n}"
                )
        dropped = list(range(len(lengths), self.num_episodes))
        cut = [i for i, n in enumerate(lengths) if n < self._lengths[i]]
        if not dropped and not cut:
            return
        for i in dropped + cut:  # counts of the removed steps
            ep = self.load_episode(i)
            removed = slice(lengths[i] if i < len(lengths) else 0, None)
            self.counter_rew.subtract(_count(ep.rew[removed].sign(), REW_SIGNS))
            self.counter_end.subtract(_count(ep.end[removed], END_VALUES))
        kept = {i: self.load_episode(i).head(lengths[i]) for i in cut}
        self._lengths = lengths
        self._lengths_np = None
        for i in dropped + cut:
            self._files.pop(i, None)
        for i in dropped:
            self._cache.pop(i, None)
        self.save_index()
        for i, ep in kept.items():
            if self.directory is not None:
                ep.save(self.episode_path(i))
            if self.cache_in_ram:
                self._cache[i] = ep
        if self.directory is not None:
            for i in dropped:
                self.episode_path(i).unlink(missing_ok=True)
        log.info("%s: rolled back (%d episodes dropped, %d cut)", self.name, len(dropped), len(cut))
