"""Batches of fixed-length segments drawn from an `EpisodeDataset`.

Episodes are drawn with weights over slices of the episodes, oldest to newest: with the paper's
[0.1, 0.1, 0.1, 0.7], the newest quarter of the episodes gives 70% of the segments. The slices hold
`num_episodes // k` episodes each, the newest one also the remainder; within a slice, episodes are equally likely.
With fewer episodes than weights, with no weights, or for a static dataset, episodes are drawn proportionally to
their length (every step equally likely).

A segment of T steps is placed around a uniformly drawn step t of the episode (L steps):
- default: it ends at stop = min(L, t + 1 + u), u uniform in [0, T), and starts at stop - T, which may be
  negative: the missing steps before the episode start are left padding;
- `can_sample_beyond_end=True` (reward/termination model): it starts at t - u and ends at start + T, so it may
  also run past the episode's end (right padding).
- `rewarded_share=P` (reward/termination model, with `can_sample_beyond_end`): the first round(P * B) segments of
  each batch are placed around rewarded steps instead (`diamond_wm.data.rewarded_steps`); while the episodes hold
  no rewarded step, they are drawn as the others.
Several processes (ranks) training one model share the episodes out: rank r of W draws only from episodes r,
r + W, r + 2W, ... with the probabilities above restricted to them and renormalised. A rank left without an episode
of its own (fewer episodes than ranks, or only episodes of weight 0) draws from all of them, as one process would.

Padded steps have zero frames (0.0, mid-grey in [-1, 1]), action 0 (or the all-zero multi-hot vector), zero
reward/end/trunc and `mask_padding` False.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from typing import NamedTuple, Optional

import torch

from diamond_wm.data.batch import Batch
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import FINAL_OBSERVATION
from diamond_wm.data.frames import to_float_frames
from diamond_wm.data.rewarded_steps import RewardedSteps, segments_around

DEFAULT_SAMPLE_WEIGHTS = (0.1, 0.1, 0.1, 0.7)


class SegmentId(NamedTuple):
    """Steps [start, stop) of episode `episode_id`; start < 0 or stop > length mean padding."""

    episode_id: int
    start: int
    stop: int


def episode_probabilities(lengths: torch.Tensor, sample_weights: Optional[Sequence[float]]) -> torch.Tensor:
    """(num_episodes,) float64 probability of drawing each episode (see the module docstring)."""
    n = lengths.numel()
    if n == 0:
        raise ValueError("cannot sample from an empty dataset")
    if sample_weights is None or n < len(sample_weights):
        lengths = lengths.to(torch.float64)
        return lengths / lengths.sum()
    w = torch.as_tensor(list(sample_weights), dtype=torch.float64)
    k = w.numel()
    sizes = torch.full((k,), n // k, dtype=torch.long)
    sizes[-1] += n % k
    return (w / sizes).repeat_interleave(sizes)


def shard_probabilities(p: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """`p` restricted to the episodes of rank `rank` of `world_size` (r, r + W, ...) and renormalised; all of `p`
    when that share is empty or has probability 0 (see the module docstring)."""
    if world_size == 1:
        return p
    mine = torch.zeros_like(p)
    mine[rank::world_size] = p[rank::world_size]
    total = mine.sum()
    return mine / total if total > 0 else p


def check_sample_weights(sample_weights: Optional[Sequence[float]]) -> Optional[tuple[float, ...]]:
    """Validate weights (non-negative, summing to 1); returns them as a tuple."""
    if sample_weights is None:
        return None
    w = tuple(float(x) for x in sample_weights)
    if len(w) == 0 or any(x < 0 for x in w) or abs(sum(w) - 1) > 1e-6:
        raise ValueError(f"sample_weights must be non-negative and sum to 1, got {list(sample_weights)}")
    return w


def make_batch(
    dataset: EpisodeDataset,
    segment_ids: Sequence[SegmentId],
    device: torch.device | str | None = None,
    full_res_dataset: Optional[EpisodeDataset] = None,
) -> Batch:
    """Gather the segments into a `Batch` (frames converted to float in [-1, 1] once, for the whole batch).

    With `full_res_dataset` (the same episodes at full resolution, for an upsampler), `Batch.full_res` holds each
    segment's own full-resolution frames (attached per segment: two segments of one episode never share them).

    With `device`, the gathered uint8 frames are moved there before the conversion (4x less to transfer than
    floats) and the whole batch is returned on `device`.

    `Batch.info[i]["final_observation"]` (C, H, W) float is set when segment i contains the last step of a
    finished episode whose final observation is known.
    """
    return batch_to_float(gather_segments(dataset, segment_ids, full_res_dataset), device)


def gather_segments(
    dataset: EpisodeDataset,
    segment_ids: Sequence[SegmentId],
    full_res_dataset: Optional[EpisodeDataset] = None,
) -> Batch:
    """The batch of `make_batch` with its frames (`obs`, `full_res`) still uint8, as stored (padding 0): what
    DataLoader workers hand over (4x fewer bytes than floats), converted by `batch_to_float` where it is used."""
    if len(segment_ids) == 0:
        raise ValueError("make_batch needs at least one segment")
    lengths = {sid.stop - sid.start for sid in segment_ids}
    if len(lengths) != 1 or min(lengths) < 1:
        raise ValueError(f"all segments must have the same positive length, got lengths {sorted(lengths)}")
    b, t = len(segment_ids), lengths.pop()
    shape = dataset.frame_shape
    assert shape is not None
    obs = torch.zeros(b, t, *shape, dtype=torch.uint8)  # (B, T, C, H, W)
    act = None  # (B, T) or (B, T, D), as the episodes store their actions
    rew = torch.zeros(b, t, dtype=torch.float32)
    end = torch.zeros(b, t, dtype=torch.uint8)
    trunc = torch.zeros(b, t, dtype=torch.uint8)
    mask = torch.zeros(b, t, dtype=torch.bool)
    infos = []
    for i, (episode_id, start, stop) in enumerate(segment_ids):
        try:
            ep = dataset.load_steps(episode_id, start, stop)  # steps [lo, hi): only those are read
        except ValueError as e:
            raise ValueError(f"segment {SegmentId(episode_id, start, stop)}: {e}") from None
        a = max(0, start) - start  # where the real steps go in the segment
        z = a + len(ep)
        obs[i, a:z] = ep.obs
        if act is None:
            act = torch.zeros(b, t, *ep.act.shape[1:], dtype=ep.act.dtype)
        elif act.shape[2:] != ep.act.shape[1:] or act.dtype != ep.act.dtype:
            raise ValueError(
                f"episode {episode_id} stores actions as {ep.act.dtype} {tuple(ep.act.shape[1:])}, other episodes "
                f"of the batch as {act.dtype} {tuple(act.shape[2:])}"
            )
        act[i, a:z] = ep.act
        rew[i, a:z] = ep.rew
        end[i, a:z] = ep.end
        trunc[i, a:z] = ep.trunc
        mask[i, a:z] = True
        info = {}
        if ep.is_finished and ep.final_observation is not None:  # known only when the steps reach the end
            info[FINAL_OBSERVATION] = to_float_frames(ep.final_observation)
        infos.append(info)
    ids = [SegmentId(*s) for s in segment_ids]
    full = _full_res_frames(full_res_dataset, ids, t) if full_res_dataset is not None else None
    return Batch(obs, act, rew, end, trunc, mask, infos, ids, full)


def batch_to_float(batch: Batch, device: torch.device | str | None = None) -> Batch:
    """A batch of `gather_segments` with float frames in [-1, 1] (padding 0.0), moved to `device` first when
    given (as uint8: 4x less to transfer)."""
    if device is not None and torch.device(device) != batch.obs.device:
        batch = batch.to(device)
    mask = batch.mask_padding[:, :, None, None, None]
    obs = to_float_frames(batch.obs).mul_(mask)  # padding -> 0.0
    full = to_float_frames(batch.full_res).mul_(mask) if batch.full_res is not None else None
    return dataclasses.replace(batch, obs=obs, full_res=full)


def _full_res_frames(full_res: EpisodeDataset, ids: Sequence[SegmentId], t: int) -> torch.Tensor:
    """uint8 (B, T, C, H', W') full-resolution frames of the segments (zeros where padded). `full_res` is a
    dataset, or anything with `frame_shape`, `lengths` and `read_frames(episode_id, start, stop)` (the original
    hdf5 files: `diamond_wm.data.hdf5_full_res`)."""
    shape = full_res.frame_shape
    if shape is None:
        raise ValueError(f"the full-resolution dataset {full_res.directory} holds no episode")
    out = torch.zeros(len(ids), t, *shape, dtype=torch.uint8)
    for i, (episode_id, start, stop) in enumerate(ids):
        lo, hi = max(0, start), min(int(full_res.lengths[episode_id]), stop)
        if isinstance(full_res, EpisodeDataset):  # only the segment's own steps are read from the file
            frames = full_res.load_steps(episode_id, lo, hi).obs
        else:
            frames = full_res.read_frames(episode_id, lo, hi)
        out[i, lo - start : hi - start] = frames
    return out


def rewarded_rows(rewarded_share: float, batch_size: int) -> int:
    """How many segments of each batch `SegmentSampler(rewarded_share=...)` places around rewarded steps: the first
    round(share * B) rows (the reward/termination objective counts its class frequencies from the same rows)."""
    return round(rewarded_share * batch_size)


class SegmentSampler:
    """Draws batches of `batch_size` segments of `seq_length` steps (vectorised draws from `generator`).

    Args:
        dataset: where the episodes come from (it may grow between calls).
        batch_size, seq_length: B and T of the batches.
        sample_weights: weights of the slices of episodes, oldest to newest (None: proportional to length).
        can_sample_beyond_end: allow right padding past the end of episodes (reward/termination model).
        ignore_weights_if_static: draw proportionally to length for a static dataset.
        generator: torch.Generator (CPU) of the draws; None seeds one from torch's global RNG.
        shard: (rank, world_size): draw from this rank's share of the episodes (see the module docstring).
        rewarded_share: share of each batch's segments placed around rewarded steps (of this rank's episodes).
    """

    def __init__(
        self,
        dataset: EpisodeDataset,
        batch_size: int,
        seq_length: int,
        sample_weights: Optional[Sequence[float]] = DEFAULT_SAMPLE_WEIGHTS,
        can_sample_beyond_end: bool = False,
        ignore_weights_if_static: bool = True,
        generator: Optional[torch.Generator] = None,
        shard: tuple[int, int] = (0, 1),
        rewarded_share: float = 0.0,
    ) -> None:
        rank, world = shard
        if not 0 <= rank < world:
            raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard!r}")
        self.shard = (int(rank), int(world))
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if isinstance(seq_length, bool) or not isinstance(seq_length, int) or seq_length < 1:
            raise ValueError(f"seq_length must be a positive integer, got {seq_length!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.seq_length = seq_length
        self.sample_weights = check_sample_weights(sample_weights)
        self.can_sample_beyond_end = can_sample_beyond_end
        self.ignore_weights_if_static = ignore_weights_if_static
        if generator is None:
            generator = torch.Generator().manual_seed(int(torch.randint(2**62, (1,)).item()))
        self.generator = generator
        if not 0 <= rewarded_share < 1:
            raise ValueError(f"rewarded_share must be in [0, 1), got {rewarded_share!r}")
        if rewarded_share > 0 and not can_sample_beyond_end:
            raise ValueError(
                "rewarded_share > 0 needs can_sample_beyond_end=True (reward/termination segments)"
            )
        self.rewarded_rows = rewarded_rows(rewarded_share, batch_size)
        self.rewarded = (
            RewardedSteps(dataset, lambda n: range(rank, n, world)) if self.rewarded_rows else None
        )

    def _weights(self) -> Optional[tuple[float, ...]]:
        if self.ignore_weights_if_static and self.dataset.is_static:
            return None
        return self.sample_weights

    def sample_ids(self, batch_size: Optional[int] = None) -> list[SegmentId]:
        """Draw the segment ids of one batch."""
        b, t, g = batch_size or self.batch_size, self.seq_length, self.generator
        lengths = torch.from_numpy(self.dataset.lengths.copy())  # (E,)
        p = shard_probabilities(episode_probabilities(lengths, self._weights()), *self.shard)
        episode_ids = torch.multinomial(p, b, replacement=True, generator=g)  # (B,)
        ep_len = lengths[episode_ids]  # (B,)
        step = (torch.rand(b, generator=g, dtype=torch.float64) * ep_len).long().clamp_(max=ep_len - 1)
        offset = torch.randint(0, t, (b,), generator=g)
        if self.can_sample_beyond_end:
            start = step - offset
            stop = start + t
        else:
            stop = torch.minimum(ep_len, step + 1 + offset)
            start = stop - t
        k = min(self.rewarded_rows, b)
        if k and len(rewarded := self.rewarded.refresh()):
            episode_ids[:k], start[:k], stop[:k] = segments_around(rewarded, k, t, g)
        return [SegmentId(*x) for x in zip(episode_ids.tolist(), start.tolist(), stop.tolist(), strict=True)]

    def sample(
        self,
        batch_size: Optional[int] = None,
        device: torch.device | str | None = None,
        full_res_dataset: Optional[EpisodeDataset] = None,
    ) -> Batch:
        """One batch of segments (on `device` when given, with full-resolution frames: see `make_batch`)."""
        return make_batch(self.dataset, self.sample_ids(batch_size), device, full_res_dataset)

    def __iter__(self) -> Iterator[Batch]:
        while True:
            yield self.sample()
