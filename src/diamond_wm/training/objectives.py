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
from diamond_wm.models.rew_end_model import REW_CLASS_NAMES, RewEndModel
from diamond_wm.training.imagined_frames import ImaginedFrames

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
    """Cross-entropies of the reward and termination heads on real segments.

    `rewarded_rows` k > 0: the first k segments of each training batch were placed around rewarded steps
    (`rew_end_model.training.rewarded_share`), so the reward classes are more frequent in the batches than in the
    data. In training, the loss adds to the reward logits the log of that factor per class, measured on the
    batches themselves (`RewardClassShift`): the logits are trained to the data's frequencies, so that imagination,
    evaluation and play, which draw from them as they are, are not biased towards rewards. Test losses (eval mode)
    are computed without it.

    `imagined` (`rew_end_model.training.imagined_share`): in training, some segments' frames are the world model's
    one-step ones (`ImaginedFrames`; its sampler is not a submodule: the denoiser is not trained here)."""

    def __init__(
        self, rew_end_model: RewEndModel, rewarded_rows: int = 0, imagined: Optional[ImaginedFrames] = None
    ) -> None:
        super().__init__()
        self.rew_end_model = rew_end_model
        self.shift = RewardClassShift(rewarded_rows) if rewarded_rows > 0 else None
        self.imagined = imagined

    def forward(self, batch: Batch) -> LossAndMetrics:
        if not self.training:
            return self.rew_end_model.compute_loss(batch)
        count = None
        if self.imagined is not None:
            batch, count = self.imagined(batch)
        shift = self.shift.update(batch) if self.shift is not None else None
        loss, metrics = self.rew_end_model.compute_loss(batch, shift)
        if self.shift is not None:
            metrics.update(
                {
                    f"rew_logit_shift_{c}": float(v)
                    for c, v in zip(REW_CLASS_NAMES, self.shift.value, strict=True)
                }
            )
        if count is not None:
            metrics["imagined_frames"] = count
        return loss, metrics

    def training_state(self) -> dict[str, Any]:
        """What the run state saves besides the weights: the class counts of the logit shift (so that a resumed
        run goes on with them, as an uninterrupted one does)."""
        return {"reward_class_shift": self.shift.state_dict()} if self.shift is not None else {}

    def load_training_state(self, state: dict[str, Any]) -> None:
        if self.shift is not None and "reward_class_shift" in state:
            self.shift.load_state_dict(state["reward_class_shift"])


class RewardClassShift:
    """log(frequency of each reward class (-1, 0, +1) among all the batches' counted transitions / among those of
    the segments drawn as usual, rows k onwards), (3,): running counts with a 200-batch memory (decay 0.995); the
    usual segments' counts get PSEUDO transitions at the frequencies of all, so that the first batches, where a
    rare class may not have appeared in them yet, give a small, finite shift (none for a class never seen)."""

    DECAY = 0.995
    PSEUDO = 100.0

    def __init__(self, rewarded_rows: int) -> None:
        self.rewarded_rows = rewarded_rows
        self.all = torch.zeros(3, dtype=torch.float64)
        self.usual = torch.zeros(3, dtype=torch.float64)
        self.value = torch.zeros(3, dtype=torch.float64)

    def update(self, batch: Batch) -> torch.Tensor:
        counted = batch.mask_padding[:, :-1].cpu()  # (B, T-1): the transitions the loss counts
        classes = batch.rew[:, :-1].cpu().sign().long() + 1
        per_row = torch.stack([((classes == c) & counted).sum(1) for c in range(3)], dim=1).double()  # (B, 3)
        self.all = self.all * self.DECAY + per_row.sum(0)
        self.usual = self.usual * self.DECAY + per_row[self.rewarded_rows :].sum(0)
        if self.all.sum() > 0:
            f_all = self.all / self.all.sum()
            usual = self.usual + self.PSEUDO * f_all
            self.value = torch.where(self.all > 0, (f_all / (usual / usual.sum())).log(), 0.0)
        return self.value.float()

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"all": self.all.clone(), "usual": self.usual.clone(), "value": self.value.clone()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        for name in ("all", "usual", "value"):
            setattr(self, name, state[name].to(torch.float64).clone())


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
