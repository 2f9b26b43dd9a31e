"""The DDPM denoiser: every case of `ddpm_small.pt` (the published ddpm branch's outputs), its schedule tables and
checkpoint keys, and what the reference cannot check (autoregressive steps, sampler draws, config selection)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
import torch

from diamond_wm.config.agent import AgentConfig, DenoiserConfig, DiffusionSamplerConfig, InnerModelConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import (
    DDPMDenoiser,
    DDPMSampler,
    DDPMSchedule,
    Denoiser,
    DiffusionSampler,
    build_denoiser,
    build_sampler,
)
from tests.models.conftest import reference_file, tiny_agent_config
from tests.models.test_conformance import assert_close, assert_quantized_equal


def ddpm_config(inner: dict[str, Any], sigma_offset_noise: float = 0.3) -> DenoiserConfig:
    return DenoiserConfig(
        inner_model=InnerModelConfig(**inner), sigma_offset_noise=sigma_offset_noise, parameterisation="ddpm"
    )


@pytest.fixture(scope="module")
def ddpm_data() -> dict[str, Any]:
    """`ddpm_small.pt`: {"format", "config", "state_dict", "betas", "alphas_cumprod", "cases"}."""
    return torch.load(reference_file("ddpm_small.pt"), weights_only=True)


@pytest.fixture(scope="module")
def ddpm_denoiser(ddpm_data: dict[str, Any]) -> DDPMDenoiser:
    """Our DDPM denoiser from the fixture's config, its `denoiser.*` weights loaded strictly, in eval mode."""
    c = ddpm_data["config"]["denoiser"]
    den = build_denoiser(ddpm_config(c["inner_model"], c["sigma_offset_noise"]))
    assert isinstance(den, DDPMDenoiser)
    assert den.schedule.num_train_timesteps == c["num_train_timesteps"]
    prefix = "denoiser."
    den.load_state_dict({k[len(prefix) :]: v for k, v in ddpm_data["state_dict"].items()}, strict=True)
    return den.eval()


def draws_by_name(case: dict[str, Any]) -> dict[str, torch.Tensor]:
    return {d["name"]: d["value"] for d in case["draws"]}


def test_schedule_tables_are_the_references(ddpm_data: dict[str, Any]) -> None:
    cfg = ddpm_data["config"]["scheduler"]
    assert (cfg["beta_schedule"], cfg["variance_type"], cfg["prediction_type"]) == (
        "linear",
        "fixed_small",
        "epsilon",
    )
    schedule = DDPMSchedule(cfg["num_train_timesteps"], cfg["beta_start"], cfg["beta_end"])
    assert schedule.betas.dtype == schedule.alphas_cumprod.dtype == torch.float32
    assert torch.equal(schedule.betas, ddpm_data["betas"])
    assert torch.equal(schedule.alphas_cumprod, ddpm_data["alphas_cumprod"])
    assert torch.equal(DDPMSchedule().alphas_cumprod, ddpm_data["alphas_cumprod"])  # the defaults are these


def test_state_dict_keys_and_shapes(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    ours = {f"denoiser.{k}": tuple(v.shape) for k, v in ddpm_denoiser.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in ddpm_data["state_dict"].items()}


def test_atari_ddpm_agent_keys_are_the_edm_ones_under_noise_model() -> None:
    # The published ddpm branch's agent checkpoints: `denoiser.noise_model.*` with the Atari inner-model shapes.
    ref = json.loads(reference_file("checkpoint_keys_atari.json").read_text())
    cfg = AgentConfig()
    cfg.denoiser.parameterisation = "ddpm"
    with torch.device("meta"):
        agent = Agent(cfg, ref["num_actions"])
    ours = {k: list(v.shape) for k, v in agent.state_dict().items() if k.startswith("denoiser.")}
    expected = {
        k.replace("denoiser.inner_model.", "denoiser.noise_model."): v
        for k, v in ref["keys"].items()
        if k.startswith("denoiser.")
    }
    assert ours == expected


def test_add_noise(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    c = ddpm_data["cases"]["add_noise"]
    noisy = ddpm_denoiser.schedule.add_noise(c["next_obs"], c["noise"], c["timesteps"])
    assert_close(noisy, c["noisy_next_obs"], "noisy_next_obs")


def test_noise_prediction(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    c = ddpm_data["cases"]["noise_prediction"]
    assert_close(ddpm_denoiser.compute_c_noise(c["timesteps"]), c["c_noise"], "c_noise")
    with torch.no_grad():
        eps = ddpm_denoiser.predict_noise(c["noisy_next_obs"], c["timesteps"], c["obs"], c["act"])
    assert_close(eps, c["predicted_noise"], "predicted_noise")


def test_sample_1step(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    c = ddpm_data["cases"]["sample_1step"]
    sampler = DDPMSampler(ddpm_denoiser, DiffusionSamplerConfig(num_steps_denoising=c["num_steps_denoising"]))
    assert sampler.timesteps == c["timesteps"].tolist() == [500]
    x_init = draws_by_name(c)["x_init"]
    assert torch.equal(x_init, c["x_init"])
    with torch.inference_mode():
        sample, trajectory = sampler.sample(c["obs"], c["act"], x_init=x_init, return_trajectory=True)
        eps = ddpm_denoiser.predict_noise(x_init, c["model_calls"][0]["timesteps"], c["obs"], c["act"])
    assert_close(eps, c["model_calls"][0]["predicted_noise"], "predicted_noise")
    assert trajectory is not None
    assert torch.equal(trajectory[0], x_init)
    unquantized = ddpm_denoiser.schedule.predict_x0(x_init, eps, 500)
    assert_quantized_equal(sample, c["sample"], unquantized)
    assert_quantized_equal(torch.stack(trajectory, dim=1)[:, 1], c["trajectory"][:, 1], unquantized)


def test_sample_3step(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    c = ddpm_data["cases"]["sample_3step"]
    sampler = DDPMSampler(ddpm_denoiser, DiffusionSamplerConfig(num_steps_denoising=c["num_steps_denoising"]))
    assert sampler.timesteps == c["timesteps"].tolist() == [666, 333, 0]
    draws = draws_by_name(c)
    variance_noise = [draws["step0.variance_noise"], draws["step1.variance_noise"]]
    with torch.inference_mode():
        sample, trajectory = sampler.sample(
            c["obs"], c["act"], x_init=draws["x_init"], return_trajectory=True, variance_noise=variance_noise
        )
    assert trajectory is not None
    assert_close(torch.stack(trajectory, dim=1), c["trajectory"], "trajectory")
    assert_quantized_equal(sample, c["sample"], c["trajectory"][:, -1])


def test_posterior_steps_of_the_3step_case(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    # Each step alone, from the reference's own x and predicted noise: the clipped x_0 and the posterior sample.
    c = ddpm_data["cases"]["sample_3step"]
    draws = draws_by_name(c)
    noises = [draws["step0.variance_noise"], draws["step1.variance_noise"], None]
    timesteps = c["timesteps"].tolist()
    for i, (step, call) in enumerate(zip(c["scheduler_steps"], c["model_calls"], strict=True)):
        t, t_prev = timesteps[i], timesteps[i + 1] if i + 1 < len(timesteps) else -1
        assert int(step["timestep"]) == t and call["timesteps"].tolist() == [t, t]
        x_prev, x0 = ddpm_denoiser.schedule.posterior_step(
            c["trajectory"][:, i], call["predicted_noise"], t, t_prev, noises[i]
        )
        assert_close(x0, step["pred_original_sample"], f"step{i}.pred_original_sample")
        assert_close(x_prev, step["prev_sample"], f"step{i}.prev_sample")


def test_loss(ddpm_data: dict[str, Any], ddpm_denoiser: DDPMDenoiser) -> None:
    c = ddpm_data["cases"]["loss"]
    b, t = c["act"].shape
    batch = Batch(
        obs=c["obs"],
        act=c["act"],
        rew=torch.zeros(b, t),
        end=torch.zeros(b, t, dtype=torch.uint8),
        trunc=torch.zeros(b, t, dtype=torch.uint8),
        mask_padding=c["mask_padding"],
    )
    # The reference's draws, in the order it made them (and the order of ours when none are given).
    assert [d["name"] for d in c["draws"]] == ["offset_noise.normal", "eps", "timesteps"]
    raw = draws_by_name(c)
    offset_noise = ddpm_denoiser.cfg.sigma_offset_noise * raw["offset_noise.normal"]
    assert_close(offset_noise, c["offset_noise"], "offset_noise")
    draw = {"offset_noise": offset_noise, "eps": raw["eps"], "timesteps": raw["timesteps"]}
    obs = c["obs"].clone()
    with torch.no_grad():
        loss, metrics = ddpm_denoiser.compute_loss(batch, num_autoregressive_steps=0, draws=[draw])
        noisy = ddpm_denoiser.schedule.add_noise(obs[:, 4], c["noise"], c["timesteps"])
        eps = ddpm_denoiser.predict_noise(noisy, c["timesteps"], obs[:, :4], c["act"][:, :4])
    assert_close(noisy, c["noisy_next_obs"], "noisy_next_obs")
    assert_close(eps, c["predicted_noise"], "predicted_noise")
    assert_close(loss, c["loss"], "loss")
    assert metrics["loss_denoising"] == pytest.approx(loss.item())
    assert torch.equal(batch.obs, obs), "compute_loss must not modify the batch"


# Beyond the reference: what it does not exercise.


def tiny_ddpm() -> DDPMDenoiser:
    torch.manual_seed(0)
    cfg = copy.deepcopy(tiny_agent_config().denoiser)
    cfg.parameterisation = "ddpm"
    cfg.inner_model.num_actions = 3
    den = build_denoiser(cfg)
    assert isinstance(den, DDPMDenoiser)
    with torch.no_grad():
        # The output conv starts at zero: give it weights so that the noise predicted depends on the input.
        den.noise_model.conv_out.weight.normal_(0, 0.1)
    return den.eval()


def test_config_selects_the_parameterisation() -> None:
    cfg = tiny_agent_config()
    edm = Agent(cfg, 3).denoiser
    assert isinstance(edm, Denoiser)
    assert isinstance(build_sampler(edm, DiffusionSamplerConfig()), DiffusionSampler)
    cfg.denoiser.parameterisation = "ddpm"
    ddpm = Agent(cfg, 3).denoiser
    assert isinstance(ddpm, DDPMDenoiser) and ddpm.inner_model is ddpm.noise_model
    assert isinstance(build_sampler(ddpm, DiffusionSamplerConfig()), DDPMSampler)
    cfg.denoiser.parameterisation = "vp"
    with pytest.raises(ValueError, match="parameterisation 'vp'"):
        Agent(cfg, 3)


@pytest.mark.parametrize(("steps", "expected"), [(1, [500]), (2, [500, 0]), (3, [666, 333, 0]), (10, None)])
def test_inference_timesteps(steps: int, expected: list[int] | None) -> None:
    sampler = DDPMSampler(tiny_ddpm(), DiffusionSamplerConfig(num_steps_denoising=steps))
    assert sampler.timesteps == (expected or list(range(900, -1, -100)))
    with pytest.raises(ValueError, match="num_steps must be in"):
        DDPMSchedule().inference_timesteps(1001)


def test_sampler_draws_its_noise_from_the_generator_given() -> None:
    den = tiny_ddpm()
    obs, act = torch.rand(2, 2, 3, 16, 16) * 2 - 1, torch.randint(0, 3, (2, 2))
    x_init = torch.randn(2, 3, 16, 16)
    cfg = DiffusionSamplerConfig(num_steps_denoising=3)

    def run(seed: int) -> torch.Tensor:
        return DDPMSampler(den, cfg, torch.Generator().manual_seed(seed)).sample(obs, act, x_init=x_init)[0]

    torch.manual_seed(123)
    a = run(0)
    torch.manual_seed(456)  # the global RNG is not used
    assert torch.equal(a, run(0))
    g = torch.Generator().manual_seed(0)
    noise = [torch.randn(x_init.shape, generator=g) for _ in range(2)]
    given, _ = DDPMSampler(den, cfg).sample(obs, act, x_init=x_init, variance_noise=noise)
    assert torch.equal(a, given)  # the same draws, in the same order
    assert not torch.equal(a, run(1))
    with pytest.raises(ValueError, match="variance_noise has 1 tensors, the sampler needs 2"):
        DDPMSampler(den, cfg).sample(obs, act, x_init=x_init, variance_noise=noise[:1])


def test_loss_with_an_autoregressive_step_conditions_on_the_quantized_prediction() -> None:
    den = tiny_ddpm()
    b, n = 3, den.num_steps_conditioning
    g = torch.Generator().manual_seed(0)
    obs = torch.rand(b, n + 2, 3, 16, 16, generator=g) * 2 - 1
    act = torch.randint(0, 3, (b, n + 2), generator=g)
    mask = torch.ones(b, n + 2, dtype=torch.bool)
    zeros = torch.zeros(b, n + 2)
    batch = Batch(obs, act, zeros, zeros.to(torch.uint8), zeros.to(torch.uint8), mask)
    draws = [
        {
            "offset_noise": 0.3 * torch.randn(b, 3, 1, 1, generator=g),
            "eps": torch.randn(b, 3, 16, 16, generator=g),
            "timesteps": torch.randint(0, 1000, (b,), generator=g),
        }
        for _ in range(2)
    ]
    with torch.no_grad():
        loss, _ = den.compute_loss(batch, num_autoregressive_steps=1, draws=draws)
        # By hand: step 0 on the data; step 1 on frames 1..n with frame n replaced by the quantized x_0 of step 0.
        losses, frames = [], obs.clone()
        for i, d in enumerate(draws):
            noise = d["offset_noise"] + d["eps"]
            noisy = den.schedule.add_noise(frames[:, n + i], noise, d["timesteps"])
            eps = den.predict_noise(noisy, d["timesteps"], frames[:, i : n + i], act[:, i : n + i])
            losses.append(((eps - noise) ** 2).mean())
            frames[:, n + i] = den.denoise(noisy, d["timesteps"], frames[:, i : n + i], act[:, i : n + i])
    assert_close(loss, (losses[0] + losses[1]) / 2, "loss")
    with pytest.raises(ValueError, match="num_autoregressive_steps=0 needs 3 frames, the batch has 4"):
        den.compute_loss(batch, num_autoregressive_steps=0)
