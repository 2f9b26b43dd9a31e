"""Every case of `small_agent.pt` (outputs of the published implementation) reproduced by our modules."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from diamond_wm.config.agent import DiffusionSamplerConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DiffusionSampler, get_sigmas_karras
from diamond_wm.models.lambda_returns import compute_lambda_returns

ATOL = 1e-5


def assert_close(ours: torch.Tensor, ref: torch.Tensor, name: str) -> None:
    assert ours.shape == ref.shape, f"{name}: shape {tuple(ours.shape)} != {tuple(ref.shape)}"
    err = (ours.double() - ref.double()).abs().max().item()
    assert err <= ATOL, f"{name}: max abs error {err:.3g} > {ATOL}"


def assert_quantized_equal(ours: torch.Tensor, ref: torch.Tensor, unquantized: torch.Tensor) -> None:
    """Equal, except where the unquantized value lies within 1e-5 of an 8-bit rounding boundary."""
    u = unquantized.double().clamp(-1, 1)
    levels = (u + 1) / 2 * 255  # boundaries at the integers
    near_boundary = ((levels - levels.round()).abs() * 2 / 255) < ATOL
    differ = ours != ref
    bad = differ & ~near_boundary
    assert not bad.any(), f"{int(bad.sum())} quantized values differ away from a rounding boundary"


def test_fixture_state_dict_loads_strictly(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    assert set(small_agent.state_dict()) == set(small_agent_data["state_dict"])


def test_denoise(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    c = small_agent_data["cases"]["denoise"]
    den = small_agent.denoiser
    cs = den.compute_conditioners(c["sigma"])
    for name in ("c_in", "c_out", "c_skip", "c_noise"):
        assert_close(getattr(cs, name), c[name], name)
    with torch.no_grad():
        model_output = den.compute_model_output(c["noisy_next_obs"], c["obs"], c["act"], cs)
        denoised = den.denoise(c["noisy_next_obs"], c["sigma"], c["obs"], c["act"])
    assert_close(model_output, c["model_output"], "model_output")
    unquantized = (
        cs.c_skip[:, None, None, None] * c["noisy_next_obs"] + cs.c_out[:, None, None, None] * model_output
    )
    assert_quantized_equal(denoised, c["denoised"], unquantized)


@pytest.mark.parametrize("case", ["sampler_euler3", "sampler_heun2", "sampler_euler1"])
def test_sampler(small_agent_data: dict[str, Any], small_agent: Agent, case: str) -> None:
    c = small_agent_data["cases"][case]
    cfg = DiffusionSamplerConfig(**c["config"])
    sigmas = get_sigmas_karras(cfg.num_steps_denoising, cfg.sigma_min, cfg.sigma_max, cfg.rho)
    assert_close(sigmas, c["sigmas"], "sigmas")
    sampler = DiffusionSampler(small_agent.denoiser, cfg)
    with torch.inference_mode():
        sample, trajectory = sampler.sample(c["obs"], c["act"], x_init=c["x_init"], return_trajectory=True)
    assert trajectory is not None
    assert_close(torch.stack(trajectory, dim=1), c["trajectory"], "trajectory")
    assert_close(sample, c["sample"], "sample")


def test_denoiser_loss(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    c = small_agent_data["cases"]["denoiser_loss"]
    b, t = c["act"].shape
    batch = Batch(
        obs=c["obs"],
        act=c["act"],
        rew=torch.zeros(b, t),
        end=torch.zeros(b, t, dtype=torch.uint8),
        trunc=torch.zeros(b, t, dtype=torch.uint8),
        mask_padding=torch.ones(b, t, dtype=torch.bool),
    )
    with torch.no_grad():
        loss, metrics = small_agent.denoiser.compute_loss(
            batch, SigmaDistributionConfig(), c["num_autoregressive_steps"], draws=c["draws"]
        )
    assert_close(loss, c["loss"], "loss")
    assert metrics["loss_denoising"] == pytest.approx(loss.item())


def test_rew_end(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    c = small_agent_data["cases"]["rew_end"]
    with torch.no_grad():
        logits_rew, logits_end, (hx, cx) = small_agent.rew_end_model(c["obs"], c["act"], c["next_obs"])
    assert_close(logits_rew, c["logits_rew"], "logits_rew")
    assert_close(logits_end, c["logits_end"], "logits_end")
    assert_close(hx, c["hx"], "hx")
    assert_close(cx, c["cx"], "cx")


def test_rew_end_loss(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    c = small_agent_data["cases"]["rew_end_loss"]
    b, t = c["act"].shape
    info = [{}, {"final_observation": c["final_observation_of_row1"]}, {}]
    obs = c["obs"].clone()
    batch = Batch(
        obs=obs,
        act=c["act"],
        rew=c["rew"],
        end=c["end"].to(torch.uint8),
        trunc=torch.zeros(b, t, dtype=torch.uint8),
        mask_padding=c["mask_padding"],
        info=info,
    )
    with torch.no_grad():
        loss, metrics = small_agent.rew_end_model.compute_loss(batch)
    assert_close(loss, c["loss"], "loss")
    assert metrics["loss_rew"] == pytest.approx(c["loss_rew"].item(), abs=ATOL)
    assert metrics["loss_end"] == pytest.approx(c["loss_end"].item(), abs=ATOL)
    assert torch.equal(obs, c["obs"]), "compute_loss must not modify the batch"


def test_actor_critic(small_agent_data: dict[str, Any], small_agent: Agent) -> None:
    c = small_agent_data["cases"]["actor_critic"]
    hx_cx = None
    logits, values = [], []
    with torch.no_grad():
        for t in range(c["obs"].shape[1]):
            out = small_agent.actor_critic(c["obs"][:, t], hx_cx)
            hx_cx = out.hx_cx
            logits.append(out.logits_act)
            values.append(out.val)
    assert_close(torch.stack(logits, dim=1), c["logits_act"], "logits_act")
    assert_close(torch.stack(values, dim=1), c["val"], "val")
    assert_close(hx_cx[0], c["hx"], "hx")
    assert_close(hx_cx[1], c["cx"], "cx")


def test_lambda_returns(small_agent_data: dict[str, Any]) -> None:
    c = small_agent_data["cases"]["lambda_returns"]
    returns = compute_lambda_returns(
        c["rew"], c["end"], c["trunc"], c["val_bootstrap"], c["gamma"], c["lambda_"]
    )
    assert_close(returns, c["returns"], "returns")
