"""Test losses of the world model on the test dataset (a deterministic pass, no gradients)."""

from __future__ import annotations

from collections import defaultdict

import torch

from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.traverser import DatasetTraverser
from diamond_wm.models.agent import Agent


@torch.no_grad()
def world_model_test_losses(
    agent: Agent,
    dataset: EpisodeDataset,
    batch_size: int,
    denoiser_seq_length: int,
    rew_end_seq_length: int,
    sigma_distribution: SigmaDistributionConfig,
    seed: int = 0,
) -> dict[str, float]:
    """Mean denoiser and reward/termination losses over every chunk of `dataset` (fixed noise seed)."""
    if dataset.num_episodes == 0:
        return {}
    device = agent.device
    metrics: dict[str, float] = defaultdict(float)
    counts: dict[str, int] = defaultdict(int)
    state = torch.get_rng_state()
    torch.manual_seed(seed)  # the same noise at every evaluation: losses comparable across epochs
    try:
        for name, model, seq_length in (
            ("denoiser", agent.denoiser, denoiser_seq_length),
            ("rew_end_model", agent.rew_end_model, rew_end_seq_length),
        ):
            for batch in DatasetTraverser(dataset, batch_size, seq_length):
                batch = batch.to(device)
                if name == "denoiser":
                    _, m = model.compute_loss(batch, sigma_distribution)
                else:
                    _, m = model.compute_loss(batch)
                for k, v in m.items():
                    metrics[f"test/{name}/{k}"] += float(v)
                    counts[f"test/{name}/{k}"] += 1
    finally:
        torch.set_rng_state(state)
    return {k: v / counts[k] for k, v in metrics.items()}
