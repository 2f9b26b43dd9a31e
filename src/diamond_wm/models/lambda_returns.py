"""λ-returns of an imagined rollout (targets of the actor-critic)."""

from __future__ import annotations

import torch


def compute_lambda_returns(
    rew: torch.Tensor,
    end: torch.Tensor,
    trunc: torch.Tensor,
    val_bootstrap: torch.Tensor,
    gamma: float,
    lambda_: float,
) -> torch.Tensor:
    """λ-returns (B, T); inputs (B, T), val_bootstrap[:, t] = V(s_{t+1}); rewards are clipped to their sign.

    G_t = r_t + gamma (1 - end_t) V_{t+1} + gamma lambda (1 - end_t)(1 - trunc_t)(G_{t+1} - V_{t+1}), with
    G_{T-1} = r_{T-1} + gamma (1 - end_{T-1}) V_T: a termination stops the return, a truncation bootstraps on
    the value. Vectorised over time: G_t = sum_{k >= t} (prod_{t <= j < k} c_j) e_k with c_j the continuation
    factor gamma lambda (1 - end_j)(1 - trunc_j) and e_k = a_k - c_k V_{k+1}.
    """
    if rew.ndim != 2 or not rew.shape == end.shape == trunc.shape == val_bootstrap.shape:
        raise ValueError(
            "rew, end, trunc and val_bootstrap must all be (B, T), got shapes "
            f"{tuple(rew.shape)}, {tuple(end.shape)}, {tuple(trunc.shape)}, {tuple(val_bootstrap.shape)}"
        )
    dtype = val_bootstrap.dtype
    t = rew.shape[1]
    rew = rew.sign().to(dtype)  # (B, T)
    not_end = 1 - end.to(dtype)  # (B, T)
    cont = gamma * lambda_ * not_end * (1 - trunc.to(dtype))  # (B, T)
    cont[:, -1] = 0  # nothing after the last step but the bootstrap value
    a = rew + gamma * not_end * val_bootstrap  # (B, T), one-step targets
    e = a - cont * val_bootstrap  # (B, T)

    # discount[b, t, k] = prod_{t <= j < k} cont[b, j] for k >= t, else 0.
    idx = torch.arange(t, device=rew.device)
    upper = idx[None, :] >= idx[:, None]  # (T, T), [t, j] = j >= t
    factors = torch.where(upper, cont[:, None, :], torch.ones_like(cont[:, None, :]))  # (B, T, T)
    prods = torch.cumprod(factors, dim=2)  # (B, T, T), [t, k] = prod_{t <= j <= k} cont_j
    discount = torch.cat((torch.ones_like(prods[..., :1]), prods[..., :-1]), dim=2)  # shift: j < k
    discount = discount * upper  # (B, T, T)
    return (discount @ e.unsqueeze(-1)).squeeze(-1)  # (B, T)
