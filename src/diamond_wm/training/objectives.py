"""Every trained part behind one interface: a module whose `forward(batch)` returns `(loss, metrics)`.

The update loop (`train_component`), the test-loss loop and DistributedDataParallel all call that `forward`, so
none of them branches on which part it trains. The objectives hold the agent's modules (their parameters are the
agent's) and what their loss needs besides a batch: the denoiser's training noise distribution, the actor-critic's
imagination rollout (which draws its own "batch" from the world model: its `batch` is None).
"""

from __future__ import annotations

from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.config.agent import ActorCriticLossConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.actor_critic import ActorCritic
from diamond_wm.models.actor_critic_loss import actor_critic_loss
from diamond_wm.models.diffusion import AnyDenoiser
from diamond_wm.models.rew_end_model import RewEndModel

LossAndMetrics = tuple[torch.Tensor, dict[str, Any]]


class DenoiserObjective(nn.Module):
    """The denoiser's own loss on segments of conditioning frames + targets (EDM's draws its noise levels from
    the training noise distribution; DDPM's draws timesteps uniformly)."""

    def __init__(self, denoiser: AnyDenoiser, sigma_distribution: SigmaDistributionConfig) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.sigma_distribution = sigma_distribution

    def forward(self, batch: Batch) -> LossAndMetrics:
        return self.denoiser.compute_loss(batch, self.sigma_distribution)


class RewEndObjective(nn.Module):
    """Cross-entropies of the reward and termination heads on real segments."""

    def __init__(self, rew_end_model: RewEndModel) -> None:
        super().__init__()
        self.rew_end_model = rew_end_model

    def forward(self, batch: Batch) -> LossAndMetrics:
        return self.rew_end_model.compute_loss(batch)


class ActorCriticObjective(nn.Module):
    """λ-return actor-critic loss on a rollout of the actor-critic in its environment (imagined, or real in
    model-free mode). The rollout is not a submodule: its environment's networks are not trained here."""

    def __init__(self, actor_critic: ActorCritic, rollout: Any, loss_cfg: ActorCriticLossConfig) -> None:
        super().__init__()
        self.actor_critic = actor_critic
        self.rollout = rollout
        self.loss_cfg = loss_cfg

    def forward(self, batch: Optional[Batch] = None) -> LossAndMetrics:
        out = self.rollout.run()
        return actor_critic_loss(
            out.logits_act, out.val, out.act, out.rew, out.end, out.trunc, out.val_bootstrap, self.loss_cfg
        )
