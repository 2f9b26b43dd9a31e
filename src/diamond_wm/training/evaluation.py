"""Test losses of the world model's objectives on the test dataset (a deterministic pass, no gradients)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.config.derived import denoiser_seq_length, rew_end_seq_length, upsampler_seq_length
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.traverser import DatasetTraverser
from diamond_wm.runtime.precision import autocast


@torch.no_grad()
def world_model_test_losses(
    objectives: dict[str, tuple[nn.Module, int]],
    dataset: EpisodeDataset,
    batch_size: int,
    device: torch.device,
    seed: int = 0,
    full_res: Optional[EpisodeDataset] = None,
    precision: str = "fp32",
    full_batches: bool = False,
    max_batches: Optional[int] = None,
) -> dict[str, float]:
    """Mean losses of each objective (name -> (objective, segment length)) over every chunk of `dataset`, with
    fixed noise (the same seed at every evaluation: losses comparable across epochs). The upsampler's batches
    carry the full-resolution frames of `full_res`. `full_batches` (compiled networks): the last batch is padded
    to `batch_size` with padding segments, which no loss counts, so that every batch has one shape. `max_batches`:
    only the first batches of each objective."""
    if dataset.num_episodes == 0:
        return {}
    metrics: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    state = torch.get_rng_state()
    torch.manual_seed(seed)
    try:
        for name, (objective, seq_length) in objectives.items():
            objective.eval()
            full = full_res if name == "upsampler" else None
            for i, batch in enumerate(DatasetTraverser(dataset, batch_size, seq_length, full)):
                if max_batches is not None and i == max_batches:
                    break
                if full_batches:
                    batch = batch.padded(batch_size)
                with autocast(device, precision):
                    _, m = objective(batch.to(device))
                for k, v in m.items():
                    metrics[f"test/{name}/{k}"] += float(v)
                    counts[f"test/{name}/{k}"] += 1
    finally:
        torch.set_rng_state(state)
    return {k: v / counts[k] for k, v in metrics.items()}


def run_test_losses(
    cfg: TrainerConfig,
    components: dict[str, Any],
    test_dataset: EpisodeDataset,
    device: torch.device,
    full_res_test: Optional[EpisodeDataset],
    full_batches: bool = False,
    max_batches: Optional[int] = None,
) -> dict[str, float]:
    """A run's world-model test losses: each trained world-model part's objective on its test segments (the
    upsampler only with full-resolution test episodes); `full_batches`, `max_batches`: see
    `world_model_test_losses`."""
    seq_lengths = {
        "denoiser": lambda: denoiser_seq_length(cfg),
        "upsampler": lambda: upsampler_seq_length(cfg),
        "rew_end_model": lambda: rew_end_seq_length(cfg),
    }
    parts = [p for p in seq_lengths if p in components]
    if "upsampler" in parts and full_res_test is None:
        parts.remove("upsampler")  # no full-resolution test episodes
    return world_model_test_losses(
        {name: (components[name].objective, seq_lengths[name]()) for name in parts},
        test_dataset,
        cfg.denoiser.training.batch_size,
        device,
        full_res=full_res_test,
        precision=cfg.training.precision,
        full_batches=full_batches,
        max_batches=max_batches,
    )


def warm_up_test_losses(
    cfg: TrainerConfig, components: dict[str, Any], source: Any, device: torch.device
) -> None:
    """Compile the test losses' graphs of compiled networks now, in the first epoch, when it does not evaluate:
    each objective's test loss on one full batch of the training episodes' segments (`source`'s: the run's
    `training.data_source`), its value dropped. Nothing is done where this process computes no test loss (another
    rank; a static dataset without test episodes). Every random stream is left as it was (the loss draws from a
    forked, seeded torch generator)."""
    plays_or_has_tests = source.plays or source.test_dataset.num_episodes > 0
    if not source.evaluates or not plays_or_has_tests or source.train_dataset.num_episodes == 0:
        return
    cuda = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        run_test_losses(
            cfg,
            components,
            source.train_dataset,
            device,
            source.full_res_train,
            full_batches=True,
            max_batches=1,
        )
