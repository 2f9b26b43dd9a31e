"""Denoiser, sampler and reward/termination model beyond the reference cases: masks, inputs, grads, churn."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.agent import DiffusionSamplerConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.agent import Agent
from diamond_wm.models.classification_metrics import per_class_metrics
from diamond_wm.models.diffusion import DiffusionSampler, get_sigmas_karras, sample_sigma_training
from diamond_wm.models.rew_end_model import lstm_step


def make_batch(b: int, t: int, num_actions: int = 3, seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(seed)
    return Batch(
        obs=torch.rand(b, t, 3, 16, 16, generator=g) * 2 - 1,
        act=torch.randint(0, num_actions, (b, t), generator=g),
        rew=torch.zeros(b, t),
        end=torch.zeros(b, t, dtype=torch.uint8),
        trunc=torch.zeros(b, t, dtype=torch.uint8),
        mask_padding=torch.ones(b, t, dtype=torch.bool),
        info=[{} for _ in range(b)],
    )


def draws_for(b: int, steps: int, seed: int = 0) -> list[dict[str, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [
        {
            "sigma": torch.rand(b, generator=g) + 0.1,
            "offset_noise": 0.3 * torch.randn(b, 3, 1, 1, generator=g),
            "eps": torch.randn(b, 3, 16, 16, generator=g),
        }
        for _ in range(steps)
    ]


def test_denoiser_loss_backward_and_random_draws(tiny_agent: Agent) -> None:
    batch = make_batch(2, 2 + 2)  # 2 conditioning frames, 1 target + 1 autoregressive step
    loss, metrics = tiny_agent.denoiser.compute_loss(batch, SigmaDistributionConfig())
    loss.backward()
    assert torch.isfinite(loss) and metrics["loss_denoising"] == pytest.approx(loss.item())
    assert tiny_agent.denoiser.inner_model.conv_out.weight.grad is not None


def test_denoiser_loss_ignores_padded_targets(tiny_agent: Agent) -> None:
    batch = make_batch(3, 4)
    batch.mask_padding[1, 2:] = False  # row 1: both targets are padding
    draws = draws_for(3, 2)
    with torch.no_grad():
        loss, _ = tiny_agent.denoiser.compute_loss(batch, SigmaDistributionConfig(), draws=draws)
        batch.obs[1, 2:] = 0.123
        loss2, _ = tiny_agent.denoiser.compute_loss(batch, SigmaDistributionConfig(), draws=draws)
    assert loss.item() == pytest.approx(loss2.item(), abs=1e-7)


def test_denoiser_bad_inputs(tiny_agent: Agent) -> None:
    den = tiny_agent.denoiser
    batch = make_batch(2, 4)
    with pytest.raises(ValueError, match="num_autoregressive_steps=3"):
        den.compute_loss(batch, SigmaDistributionConfig(), num_autoregressive_steps=3)
    with pytest.raises(ValueError, match="more than 2"):
        den.compute_loss(make_batch(2, 2), SigmaDistributionConfig())
    with pytest.raises(ValueError, match="obs must be"):
        den.denoise(
            torch.zeros(2, 3, 16, 16), torch.ones(2), torch.zeros(2, 3, 3, 16, 16), torch.zeros(2, 3).long()
        )


def test_denoised_frames_are_8_bit(tiny_agent: Agent) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        x = tiny_agent.denoiser.denoise(
            torch.randn(2, 3, 16, 16) * 3,
            torch.tensor(2.0),
            torch.rand(2, 2, 3, 16, 16),
            torch.zeros(2, 2).long(),
        )
    levels = (x + 1) / 2 * 255
    assert x.min() >= -1 and x.max() <= 1
    torch.testing.assert_close(levels, levels.round(), atol=1e-4, rtol=0)


def test_training_sigmas_are_clipped_log_normal() -> None:
    cfg = SigmaDistributionConfig()
    s = sample_sigma_training(20000, cfg, generator=torch.Generator().manual_seed(0))
    assert s.min() >= cfg.sigma_min and s.max() <= cfg.sigma_max
    assert s.log().median().item() == pytest.approx(cfg.loc, abs=0.05)


def test_karras_schedule() -> None:
    sigmas = get_sigmas_karras(3, 2e-3, 5.0, 7)
    assert sigmas.dtype == torch.float32 and sigmas.shape == (4,)
    assert sigmas[0].item() == pytest.approx(5.0, rel=1e-6) and sigmas[2].item() == pytest.approx(
        2e-3, rel=1e-5
    )
    assert sigmas[-1] == 0 and torch.all(sigmas[:-1] > sigmas[1:])
    with pytest.raises(ValueError, match="num_steps"):
        get_sigmas_karras(0, 2e-3, 5.0, 7)


@pytest.mark.parametrize("order, churn", [(1, 0.0), (2, 0.0), (1, 1.0), (2, 1.0)])
def test_sampler_inference_mode(tiny_agent: Agent, order: int, churn: float) -> None:
    cfg = DiffusionSamplerConfig(num_steps_denoising=2, order=order, s_churn=churn)
    sampler = DiffusionSampler(tiny_agent.denoiser, cfg)
    torch.manual_seed(0)
    obs, act = torch.rand(2, 2, 3, 16, 16) * 2 - 1, torch.zeros(2, 2).long()
    with torch.inference_mode():
        sample, traj = sampler.sample(obs, act)
        assert traj is None
        sample2, traj2 = sampler.sample(obs, act, x_init=torch.randn(2, 3, 16, 16), return_trajectory=True)
    assert sample.shape == (2, 3, 16, 16) and torch.isfinite(sample).all()
    assert len(traj2) == 3 and traj2[-1] is sample2


def test_sampler_bad_config(tiny_agent: Agent) -> None:
    with pytest.raises(ValueError, match="order"):
        DiffusionSampler(tiny_agent.denoiser, DiffusionSamplerConfig(order=3))


def test_rew_end_loss_needs_final_observation(tiny_agent: Agent) -> None:
    batch = make_batch(2, 5)
    batch.end[1, 2] = 1
    batch.mask_padding[1, 3:] = False
    with pytest.raises(ValueError, match="segment 1 .* 'final_observation'"):
        tiny_agent.rew_end_model.compute_loss(batch)
    batch.info[1]["final_observation"] = torch.zeros(3, 16, 16)
    batch.rew[0, 1], batch.rew[0, 3] = 5.0, -0.5
    loss, metrics = tiny_agent.rew_end_model.compute_loss(batch)
    loss.backward()
    for key in ("loss_rew", "loss_end", "rew_precision_neg", "rew_recall_pos", "rew_f1_zero", "end_f1_end"):
        assert key in metrics
    assert (
        metrics["rew_support_pos"] == 1
        and metrics["rew_support_neg"] == 1
        and metrics["end_support_end"] == 1
    )


def test_rew_end_forward_carries_state(tiny_agent: Agent) -> None:
    batch = make_batch(2, 4)
    m = tiny_agent.rew_end_model
    with torch.no_grad():
        full_rew, full_end, _ = m(batch.obs[:, :-1], batch.act[:, :-1], batch.obs[:, 1:])
        a_rew, _, state = m(batch.obs[:, :1], batch.act[:, :1], batch.obs[:, 1:2])
        b_rew, b_end, _ = m(batch.obs[:, 1:-1], batch.act[:, 1:-1], batch.obs[:, 2:], state)
    torch.testing.assert_close(torch.cat((a_rew, b_rew), 1), full_rew)
    torch.testing.assert_close(b_end, full_end[:, 1:])
    assert full_rew.shape == (2, 3, 3) and full_end.shape == (2, 3, 2)


def test_lstm_step_is_the_lstm_on_one_step() -> None:
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(6, 5, batch_first=True)
    x = torch.randn(3, 1, 6, requires_grad=True)
    state = (torch.randn(1, 3, 5), torch.randn(1, 3, 5))
    for hx_cx in (None, state):
        y, (h, c) = lstm(x, hx_cx)
        y_step, (h_step, c_step) = lstm_step(lstm, x, hx_cx)
        torch.testing.assert_close(y_step, y)
        torch.testing.assert_close(h_step, h)
        torch.testing.assert_close(c_step, c)
        g, g_step = (torch.autograd.grad(out.sum(), (x, lstm.weight_ih_l0)) for out in (y, y_step))
        torch.testing.assert_close(g_step, g)


def test_rew_end_one_step_at_a_time_is_the_sequence(tiny_agent: Agent) -> None:
    batch = make_batch(2, 5)
    m = tiny_agent.rew_end_model
    with torch.no_grad():
        full_rew, full_end, (full_h, full_c) = m(batch.obs[:, :-1], batch.act[:, :-1], batch.obs[:, 1:])
        state, rews, ends = None, [], []
        for t in range(4):
            rew, end, state = m(
                batch.obs[:, t : t + 1], batch.act[:, t : t + 1], batch.obs[:, t + 1 : t + 2], state
            )
            rews.append(rew)
            ends.append(end)
    torch.testing.assert_close(torch.cat(rews, 1), full_rew)
    torch.testing.assert_close(torch.cat(ends, 1), full_end)
    torch.testing.assert_close(state, (full_h, full_c))


def test_rew_end_lstm_state_stays_float32_under_bf16_autocast(tiny_agent: Agent) -> None:
    batch = make_batch(2, 5)
    m = tiny_agent.rew_end_model
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        _, _, burn_in = m(batch.obs[:, :3], batch.act[:, :3], batch.obs[:, 1:4])  # a context: nn.LSTM
        _, _, step = m(batch.obs[:, 3:4], batch.act[:, 3:4], batch.obs[:, 4:5], burn_in)  # one step: the cell
    assert [t.dtype for t in (*burn_in, *step)] == [torch.float32] * 4


def test_per_class_metrics() -> None:
    target = torch.tensor([0, 0, 1, 1, 1, 2])
    pred = torch.tensor([0, 1, 1, 1, 0, 1])
    logits = torch.nn.functional.one_hot(pred, 3).float()
    m = per_class_metrics(logits, target, ("a", "b", "c"), "x")
    assert m["x_precision_a"] == pytest.approx(1 / 2) and m["x_recall_a"] == pytest.approx(1 / 2)
    assert m["x_precision_b"] == pytest.approx(2 / 4) and m["x_recall_b"] == pytest.approx(2 / 3)
    assert m["x_f1_b"] == pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3))
    assert m["x_precision_c"] == 0 and m["x_recall_c"] == 0 and m["x_f1_c"] == 0
