"""`agent.actor_critic.value_scale`: the value is the critic head's output times the scale."""

from __future__ import annotations

import torch

from diamond_wm.config.agent import ActorCriticConfig
from diamond_wm.models.actor_critic import ActorCritic
from tests.play.tiny_run import one_thread


def _actor_critic(value_scale: float) -> ActorCritic:
    torch.manual_seed(0)
    cfg = ActorCriticConfig(
        lstm_dim=128, img_size=16, channels=[8, 8, 16, 16], num_actions=18, value_scale=value_scale
    )
    return ActorCritic(cfg)


def test_the_value_is_the_head_output_times_the_scale_and_the_policy_is_unchanged() -> None:
    plain, scaled = _actor_critic(1.0), _actor_critic(10.0)
    with torch.no_grad():
        for ac in (plain, scaled):
            ac.critic_linear.weight.normal_(generator=torch.Generator().manual_seed(1))
            ac.actor_linear.weight.normal_(generator=torch.Generator().manual_seed(2))
    obs = torch.rand(5, 3, 16, 16, generator=torch.Generator().manual_seed(3)) * 2 - 1
    a, b = plain(obs), scaled(obs)
    torch.testing.assert_close(b.val, 10.0 * a.val)
    torch.testing.assert_close(b.logits_act, a.logits_act)
    assert a.val.abs().min() > 0  # the heads are not zero, so the comparison says something


def _mean_abs_h_after_fitting(value_scale: float, target: float, updates: int = 150) -> float:
    """Adam (the preset's 5e-4) on the value loss alone, towards a return of `target` on noisy random frames
    over 4 recurrent steps; then the mean |h| of the LSTM on fresh frames from a zero state."""
    ac = _actor_critic(value_scale)
    opt = torch.optim.Adam(ac.parameters(), lr=5e-4)
    g = torch.Generator().manual_seed(4)
    for _ in range(updates):
        obs = torch.rand(16, 3, 16, 16, generator=g) * 2 - 1
        hx_cx, vals = None, []
        for _ in range(4):
            out = ac(obs + 0.1 * torch.randn(obs.shape, generator=g), hx_cx)
            hx_cx = out.hx_cx
            vals.append(out.val)
        loss = ((torch.stack(vals) - target) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        out = ac(torch.rand(16, 3, 16, 16, generator=g) * 2 - 1)
        assert abs(out.val.mean().item() - target) < 1.0, "the critic did not fit the return"
        return out.hx_cx[0].abs().mean().item()


def test_a_scaled_head_reaches_the_returns_without_pushing_the_lstm_to_its_bounds() -> None:
    """A zero-started head reaches a return of 4 within 150 updates only by pushing h towards +-1 (the shared LSTM
    of a small actor-critic saturated so in whole Boxing runs); scaled by 10, it gets there with h well inside."""
    with one_thread():  # a small network: fastest on one thread
        start = _actor_critic(1.0)(torch.rand(16, 3, 16, 16) * 2 - 1).hx_cx[0].abs().mean().item()
        plain = _mean_abs_h_after_fitting(1.0, target=4.0)
        scaled = _mean_abs_h_after_fitting(10.0, target=4.0)
    assert start < 0.1
    assert plain > 0.6, plain
    assert scaled < plain / 2, (scaled, plain)
