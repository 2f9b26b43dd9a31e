"""Starting contexts of imagination drawn from a dataset: the context source that training's imagination and play
share (`segment_contexts`), so that a world model's environments start the same way wherever they run.

A context source is a callable `(count, generator) -> (obs (count, n, C, H, W) float in [-1, 1], act (count, n)
or (count, n, D))` (see `envs.world_model_env.InitialConditionSource`); every draw comes from `generator`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Optional

import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentSampler

ContextSource = Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]


def segment_contexts(
    dataset: EpisodeDataset,
    num_steps_conditioning: int,
    sample_weights: Optional[Sequence[float]] = None,
    ignore_weights_if_static: bool = True,
    shard: tuple[int, int] = (0, 1),
    device: Optional[torch.device] = None,
) -> ContextSource:
    """Segments of `num_steps_conditioning` steps of `dataset` (this `shard` of its episodes), drawn as training
    draws its segments (`SegmentSampler`: episodes by `sample_weights`, uniformly when None; left-padded where an
    episode is shorter), on `device` (None: where the dataset's tensors are)."""

    def draw(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        sampler = SegmentSampler(
            dataset,
            count,
            num_steps_conditioning,
            sample_weights,
            ignore_weights_if_static=ignore_weights_if_static,
            generator=generator,
            shard=shard,
        )
        batch = sampler.sample()
        if device is None:
            return batch.obs, batch.act
        return batch.obs.to(device), batch.act.to(device)

    return draw
