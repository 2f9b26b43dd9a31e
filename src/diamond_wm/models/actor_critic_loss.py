"""Actor-critic loss in imagination: REINFORCE with a value baseline, value regression, entropy bonus."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.distributions import Categorical

from diamond_wm.config.agent import ActorCriticLossConfig
from diamond_wm.models.lambda_returns import compute_lambda_returns


def actor_critic_loss(
    logits_act: torch.Tensor,
    val: torch.Tensor,
    act: torch.Tensor,
    rew: torch.Tensor,
    end: torch.Tensor,
    trunc: torch.Tensor,
    val_bootstrap: torch.Tensor,
    cfg: ActorCriticLossConfig,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Policy gradient against the value baseline + value MSE to the λ-returns - entropy bonus.

    logits_act (B, T, A), val (B, T), act (B, T), rew/end/trunc (B, T), val_bootstrap (B, T) = V(s_{t+1}).
    """
    if logits_act.ndim != 3 or logits_act.shape[:2] != val.shape or act.shape != val.shape:
        raise ValueError(
            f"expected logits_act (B, T, A), val (B, T), act (B, T); got {tuple(logits_act.shape)}, "
            f"{tuple(val.shape)}, {tuple(act.shape)}"
        )
    # In float32 whatever the networks ran in: under bf16 autocast the heads' outputs are bfloat16 (its steps near the
    # entropy of 18 actions, 2.89, are 0.016 wide), and autocast would run the λ-returns' matmul in bfloat16 too.
    logits_act, val, val_bootstrap = logits_act.float(), val.float(), val_bootstrap.float()
    with torch.autocast(logits_act.device.type, enabled=False):
        with torch.no_grad():
            lambda_returns = compute_lambda_returns(
                rew, end, trunc, val_bootstrap.detach(), cfg.gamma, cfg.lambda_
            )  # (B, T)
        loss_values = cfg.weight_value_loss * F.mse_loss(val, lambda_returns)
        dist = Categorical(logits=logits_act)
        entropy = dist.entropy().mean()
        advantage = (lambda_returns - val).detach()  # (B, T)
        loss_actions = (-dist.log_prob(act) * advantage).mean()
        loss_entropy = -cfg.weight_entropy_loss * entropy
        loss = loss_actions + loss_entropy + loss_values

    metrics = {
        "policy_entropy": entropy.item(),
        "lambda_returns": lambda_returns.mean().item(),
        "value": val.detach().mean().item(),
        "advantage": advantage.mean().item(),
        # What the environment gave in the rollout (imagined in the world model): the shares of its steps with a
        # positive / negative reward and with an end, to set beside the real game's.
        "rew_share_pos": (rew > 0).float().mean().item(),
        "rew_share_neg": (rew < 0).float().mean().item(),
        "end_share": end.float().mean().item(),
        "loss_actions": loss_actions.item(),
        "loss_entropy": loss_entropy.item(),
        "loss_values": loss_values.item(),
        "loss_total": loss.item(),
    }
    return loss, metrics
