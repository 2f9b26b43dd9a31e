"""The world model's own frames in the reward/termination model's training segments
(`rew_end_model.training.imagined_share`; not the paper's recipe, which trains it on real frames only).

In imagination the reward/termination model reads the denoiser's frames, not real ones. Where the denoiser leaves
out what marks a reward (a small one drawing the mean of what it cannot predict, such as a boxer's punch), a model
trained on real frames misreads what it is shown instead. With a share of each batch's segments whose frames are
replaced by frames the world model imagines one step at a time from the real ones before them, it also learns what
the real rewards were given what the denoiser draws: its probabilities stay those of the game's rewards on the
frames imagination feeds it.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional

import torch

from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.agent import Agent


def spread_rows(count: int, batch_size: int) -> list[int]:
    """`count` rows spread evenly over a batch of `batch_size` (so that they take some of the segments placed
    around rewarded steps, the first ones of a batch, and some of the others)."""
    if not 0 <= count <= batch_size:
        raise ValueError(f"cannot spread {count} rows over a batch of {batch_size}")
    return [i * batch_size // count for i in range(count)]


class ImaginedFrames:
    """Replaces, in `rows` segments of a batch, every frame whose n previous frames and itself are real steps
    (not padding) by the one the sampler draws from those n frames and their actions, as imagination draws each
    next frame. The rewards, ends and the final observation of an ended episode stay the real ones.

    Args:
        sampler: the next-frame sampler over the denoiser, with imagination's settings.
        rows: how many segments of each batch get imagined frames (spread over the batch).
    """

    def __init__(self, sampler: Any, rows: int) -> None:
        if rows < 1:
            raise ValueError(f"ImaginedFrames needs rows >= 1, got {rows}")
        self.sampler = sampler
        self.rows = rows

    @property
    def num_steps_conditioning(self) -> int:
        return int(self.sampler.denoiser.num_steps_conditioning)

    def positions(self, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(segment, step) indices (M,), (M,) of the frames to imagine."""
        n = self.num_steps_conditioning
        b, t = batch.mask_padding.shape
        if t <= n:
            empty = torch.zeros(0, dtype=torch.long, device=batch.obs.device)
            return empty, empty
        rows = torch.as_tensor(spread_rows(min(self.rows, b), b), device=batch.obs.device)
        real = batch.mask_padding[rows]  # (k, T)
        whole = real.unfold(1, n + 1, 1).all(-1)  # (k, T - n): steps j - n .. j all real, for j = n .. T - 1
        r, j = whole.nonzero(as_tuple=True)
        return rows[r], j + n

    @torch.no_grad()
    def __call__(self, batch: Batch) -> tuple[Batch, int]:
        """(the batch with those frames imagined, how many were)."""
        seg, step = self.positions(batch)
        if seg.numel() == 0:
            return batch, 0
        n = self.num_steps_conditioning
        window = step[:, None] - n + torch.arange(n, device=step.device)  # (M, n): the n steps before each
        frames, _ = self.sampler.sample(batch.obs[seg[:, None], window], batch.act[seg[:, None], window])
        obs = batch.obs.clone()
        obs[seg, step] = frames.to(obs.dtype)
        return dataclasses.replace(batch, obs=obs), int(seg.numel())


def imagined_frames(cfg: TrainerConfig, agent: Agent) -> Optional[ImaginedFrames]:
    """The reward/termination model's imagined frames (`rew_end_model.training.imagined_share`), drawn with
    imagination's sampler settings; None when the share gives no segment."""
    training = cfg.rew_end_model.training
    rows = round(training.imagined_share * training.batch_size)
    if rows == 0 or agent.denoiser is None:
        return None
    return ImaginedFrames(agent.denoiser.build_sampler(cfg.world_model_env.diffusion_sampler), rows)
