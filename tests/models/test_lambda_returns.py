"""λ-returns: vectorised form against a plain Python loop and closed forms; the actor-critic loss."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.agent import ActorCriticLossConfig
from diamond_wm.models.actor_critic_loss import actor_critic_loss
from diamond_wm.models.lambda_returns import compute_lambda_returns


def loop_lambda_returns(rew, end, trunc, val_bootstrap, gamma, lambda_):
    """Reference: backward recursion over plain Python floats."""
    b, t = rew.shape
    out = [[0.0] * t for _ in range(b)]
    for i in range(b):
        g_next = None
        for j in reversed(range(t)):
            r = float(torch.sign(rew[i, j]))
            d, tr, v = float(end[i, j]), float(trunc[i, j]), float(val_bootstrap[i, j])
            g = r + gamma * (1 - d) * v
            if j < t - 1 and not d and not tr:
                g += gamma * lambda_ * (g_next - v)
            out[i][j] = g
            g_next = g
    return torch.tensor(out, dtype=torch.float64)


def test_matches_python_loop() -> None:
    g = torch.Generator().manual_seed(0)
    b, t = 6, 20
    rew = torch.randn(b, t, generator=g) * 3
    rew[rew.abs() < 1] = 0
    end = (torch.rand(b, t, generator=g) < 0.1).long()
    trunc = (torch.rand(b, t, generator=g) < 0.1).long() * (1 - end)
    val = torch.randn(b, t, generator=g, dtype=torch.float64) * 5
    ours = compute_lambda_returns(rew, end, trunc, val, 0.985, 0.95)
    ref = loop_lambda_returns(rew, end, trunc, val, 0.985, 0.95)
    assert ours.dtype == torch.float64
    torch.testing.assert_close(ours, ref, rtol=0, atol=1e-10)
    # float32 inputs, as in training
    ours32 = compute_lambda_returns(rew, end, trunc, val.float(), 0.985, 0.95)
    torch.testing.assert_close(ours32.double(), ref, rtol=0, atol=1e-5)


def test_closed_forms() -> None:
    gamma, t = 0.9, 5
    rew = torch.tensor([[2.0, -0.5, 0.0, 7.0, 1.0]])  # signs: 1, -1, 0, 1, 1
    signs = rew.sign()
    val = torch.full((1, t), 10.0)
    zeros = torch.zeros(1, t, dtype=torch.long)

    # lambda = 1, no end: discounted sum of clipped rewards + discounted bootstrap of the last value.
    g = compute_lambda_returns(rew, zeros, zeros, val, gamma, 1.0)
    expected = [
        sum(gamma**k * signs[0, j + k].item() for k in range(t - j)) + gamma ** (t - j) * 10 for j in range(t)
    ]
    torch.testing.assert_close(g[0], torch.tensor(expected), rtol=0, atol=1e-5)

    # lambda = 0: one-step TD targets.
    g = compute_lambda_returns(rew, zeros, zeros, val, gamma, 0.0)
    torch.testing.assert_close(g, signs + gamma * val)

    # A termination at step 2 stops the return there; steps before it do not see later rewards.
    end = torch.tensor([[0, 0, 1, 0, 0]])
    g = compute_lambda_returns(rew, end, zeros, val, gamma, 1.0)
    assert g[0, 2].item() == pytest.approx(0.0)
    assert g[0, 1].item() == pytest.approx(-1.0)
    assert g[0, 0].item() == pytest.approx(1.0 - gamma)

    # A truncation at step 2 bootstraps on V(s_3) instead of following the next (unrelated) steps.
    trunc = torch.tensor([[0, 0, 1, 0, 0]])
    g = compute_lambda_returns(rew, zeros, trunc, val, gamma, 1.0)
    assert g[0, 2].item() == pytest.approx(0.0 + gamma * 10)
    assert g[0, 0].item() == pytest.approx(1.0 - gamma + gamma**2 * (0.0 + gamma * 10))


def test_bad_shapes() -> None:
    with pytest.raises(ValueError, match="must all be"):
        compute_lambda_returns(
            torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4), 0.9, 0.9
        )


def test_actor_critic_loss() -> None:
    g = torch.Generator().manual_seed(0)
    b, t, a = 4, 6, 3
    logits = torch.randn(b, t, a, generator=g, requires_grad=True)
    val = torch.randn(b, t, generator=g, requires_grad=True)
    act = torch.randint(0, a, (b, t), generator=g)
    rew = torch.randn(b, t, generator=g)
    end = torch.zeros(b, t, dtype=torch.long)
    end[1, 3] = 1
    trunc = torch.zeros(b, t, dtype=torch.long)
    trunc[:, -1] = 1
    val_bootstrap = torch.randn(b, t, generator=g, requires_grad=True)
    cfg = ActorCriticLossConfig()

    loss, metrics = actor_critic_loss(logits, val, act, rew, end, trunc, val_bootstrap, cfg)

    returns = compute_lambda_returns(rew, end, trunc, val_bootstrap.detach(), cfg.gamma, cfg.lambda_)
    logp = logits.log_softmax(-1)
    entropy = -(logp.exp() * logp).sum(-1).mean()
    adv = returns - val.detach()
    expected = (
        -(logp.gather(-1, act[..., None]).squeeze(-1) * adv).mean()
        - cfg.weight_entropy_loss * entropy
        + cfg.weight_value_loss * ((val - returns) ** 2).mean()
    )
    torch.testing.assert_close(loss, expected)
    assert metrics["loss_total"] == pytest.approx(loss.item())
    assert metrics["policy_entropy"] == pytest.approx(entropy.item(), rel=1e-5)
    assert metrics["rew_share_pos"] == pytest.approx((rew > 0).sum().item() / rew.numel())
    assert metrics["rew_share_neg"] == pytest.approx((rew < 0).sum().item() / rew.numel())
    assert metrics["end_share"] == pytest.approx(end.sum().item() / end.numel())

    loss.backward()
    assert logits.grad is not None and val.grad is not None
    assert val_bootstrap.grad is None, "targets must not carry gradient"


def test_actor_critic_loss_of_bf16_heads_is_computed_in_float32() -> None:
    """Under bf16 autocast the heads give bfloat16 logits and values; the loss and its metrics are the float32
    computation on those same values (bfloat16 would round an entropy near ln 18 = 2.89 to steps of 0.016)."""
    g = torch.Generator().manual_seed(0)
    b, t, a = 8, 15, 18
    logits = (0.01 * torch.randn(b, t, a, generator=g)).bfloat16().requires_grad_()
    val = (0.3 * torch.randn(b, t, generator=g)).bfloat16().requires_grad_()
    val_bootstrap = (0.3 * torch.randn(b, t, generator=g)).bfloat16()
    act = torch.randint(0, a, (b, t), generator=g)
    rew = torch.randint(-1, 2, (b, t), generator=g).float()
    end = torch.zeros(b, t, dtype=torch.long)
    trunc = torch.zeros(b, t, dtype=torch.long)
    cfg = ActorCriticLossConfig()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, metrics = actor_critic_loss(logits, val, act, rew, end, trunc, val_bootstrap, cfg)
    ref_loss, ref = actor_critic_loss(
        logits.detach().float(), val.detach().float(), act, rew, end, trunc, val_bootstrap.float(), cfg
    )
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss, ref_loss, rtol=1e-6, atol=1e-7)
    assert abs(metrics["policy_entropy"] - ref["policy_entropy"]) < 1e-5
    loss.backward()
    assert logits.grad is not None and logits.grad.dtype == torch.bfloat16
