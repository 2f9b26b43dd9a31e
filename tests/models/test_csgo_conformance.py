"""The CS:GO world model against `csgo_small.pt` (the published csgo branch's outputs on fixed inputs and draws):
denoiser and upsampler preconditioning and networks, both sampler presets, both training losses."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
import torch

from diamond_wm.config.agent import AgentConfig, DenoiserConfig, DiffusionSamplerConfig, InnerModelConfig
from diamond_wm.data.batch import Batch
from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.models.agent import Agent, agent_config_from_dict
from diamond_wm.models.checkpoint import load_into
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.diffusion.loss import edm_denoising_loss
from diamond_wm.models.diffusion.upsampling import upsampler_conditioning
from tests.models.conftest import reference_file
from tests.models.test_conformance import assert_close, assert_quantized_equal


def csgo_agent_config(config: dict[str, Any]) -> AgentConfig:
    """Our agent config for the fixture's plain-dict config: a denoiser and an upsampler, nothing else."""
    parts = {k: config[k] for k in ("denoiser", "upsampler")}
    return agent_config_from_dict({**parts, "rew_end_model": None, "actor_critic": None})


@pytest.fixture(scope="module")
def csgo_data() -> dict[str, Any]:
    """`csgo_small.pt`: {"format", "config", "state_dict", "cases"}."""
    return torch.load(reference_file("csgo_small.pt"), weights_only=True)


@pytest.fixture(scope="module")
def csgo_agent(csgo_data: dict[str, Any]) -> Agent:
    agent = Agent(csgo_agent_config(csgo_data["config"]), csgo_action_spec())
    load_into(agent, csgo_data["state_dict"])  # strict, published keys
    return agent.eval()


class Draws:
    """Serves a case's recorded random draws in order, checking each request's shape and purpose."""

    def __init__(self, draws: list[dict[str, Any]]) -> None:
        self.draws = list(draws)
        self.i = 0

    def __call__(self, shape: tuple[int, ...], name: str | None = None) -> torch.Tensor:
        d = self.draws[self.i]
        self.i += 1
        value = torch.as_tensor(d["value"])
        assert tuple(value.shape) == tuple(shape), f"draw {d['name']}: shape {tuple(shape)} requested"
        if name is not None:
            assert d["name"].endswith(name), f"draw {self.i - 1} is {d['name']}, not {name}"
        return value.clone()

    def done(self) -> None:
        assert self.i == len(self.draws), f"{len(self.draws) - self.i} draws left unused"


def test_state_dict_is_the_published_layout(csgo_data: dict[str, Any], csgo_agent: Agent) -> None:
    ours = {k: tuple(v.shape) for k, v in csgo_agent.state_dict().items()}
    assert ours == {k: tuple(v.shape) for k, v in csgo_data["state_dict"].items()}
    assert csgo_agent.parts == ("denoiser", "upsampler")
    assert csgo_agent.upsampler.inner_model.act_emb is None


@pytest.mark.parametrize("case_name", ["denoise", "denoise_no_sigma_cond"])
def test_denoise(csgo_data: dict[str, Any], csgo_agent: Agent, case_name: str) -> None:
    case = csgo_data["cases"][case_name]
    den = csgo_agent.denoiser
    sigma_cond = case["sigma_cond"]
    with torch.no_grad():
        cs = den.compute_conditioners(case["sigma"], sigma_cond)
        for k in ("c_in", "c_out", "c_skip", "c_noise", "c_noise_cond"):
            assert_close(getattr(cs, k), case[k], k)
        out = den.compute_model_output(case["noisy_next_obs"], case["obs"], case["act"], cs)
        assert_close(out, case["model_output"], "model_output")
        denoised = den.denoise(case["noisy_next_obs"], case["sigma"], case["obs"], case["act"], sigma_cond)
    unquantized = cs.c_skip.view(-1, 1, 1, 1) * case["noisy_next_obs"] + cs.c_out.view(-1, 1, 1, 1) * out
    assert_quantized_equal(denoised, case["denoised"], unquantized)


def test_upsample(csgo_data: dict[str, Any], csgo_agent: Agent) -> None:
    case = csgo_data["cases"]["upsample"]
    up = csgo_agent.upsampler
    cond = upsampler_conditioning(case["prev_full_res"][:, 0], case["low_res"], 5)
    assert_close(cond[:, 1], case["low_res_upsampled"], "low_res_upsampled")
    with torch.no_grad():
        cs = up.compute_conditioners(case["sigma"])
        for k in ("c_in", "c_out", "c_skip", "c_noise", "c_noise_cond"):
            assert_close(getattr(cs, k), case[k], k)
        out = up.compute_model_output(case["noisy_next_obs"], cond, None, cs)
        assert_close(out, case["model_output"], "model_output")
        denoised = up.denoise(case["noisy_next_obs"], case["sigma"], cond, None)
    unquantized = cs.c_skip.view(-1, 1, 1, 1) * case["noisy_next_obs"] + cs.c_out.view(-1, 1, 1, 1) * out
    assert_quantized_equal(denoised, case["denoised"], unquantized)


def check_sampler(
    sampler: DiffusionSampler, part: dict[str, Any], obs: torch.Tensor, act: torch.Tensor | None
) -> None:
    assert_close(sampler.sigmas, part["sigmas"], "sigmas")
    draws = Draws(part["draws"])
    sample, trajectory = sampler.sample(obs, act, return_trajectory=True, randn=draws)
    draws.done()
    assert_close(trajectory[0], part["x_init"], "x_init")
    assert_close(torch.stack(trajectory, dim=1), part["trajectory"], "trajectory")
    assert_close(sample, part["sample"], "sample")


@pytest.mark.parametrize("case_name", ["sampler_fast", "sampler_higher_quality"])
def test_samplers(csgo_data: dict[str, Any], csgo_agent: Agent, case_name: str) -> None:
    case = csgo_data["cases"][case_name]
    cfgs = {k: DiffusionSamplerConfig(**v) for k, v in case["config"].items()}
    nxt = case["next_obs"]
    check_sampler(DiffusionSampler(csgo_agent.denoiser, cfgs["next_obs"]), nxt, nxt["obs"], nxt["act"])
    up = case["upsampling"]
    cond = upsampler_conditioning(up["prev_full_res"][:, 0], up["low_res"], 5)
    assert_close(cond[:, 1], up["low_res_upsampled"], "low_res_upsampled")
    check_sampler(DiffusionSampler(csgo_agent.upsampler, cfgs["upsampling"]), up, cond, None)


def loss_draws(
    case: dict[str, Any], scale: Callable[[str, torch.Tensor], torch.Tensor]
) -> list[dict[str, Any]]:
    """The case's draws per predicted frame, under our names (sigma and offsets derived as the reference did)."""
    by_step: dict[int, dict[str, Any]] = {}
    for d in case["draws"]:
        step, name = d["name"].split(".", 1)
        by_step.setdefault(int(step.removeprefix("step")), {})[name.removesuffix(".normal")] = scale(
            name, torch.as_tensor(d["value"])
        )
    return [by_step[i] for i in sorted(by_step)]


@pytest.mark.parametrize("case_name", ["denoiser_loss", "upsampler_loss"])
def test_losses(csgo_data: dict[str, Any], csgo_agent: Agent, case_name: str) -> None:
    case = csgo_data["cases"][case_name]
    part = csgo_agent.upsampler if case_name == "upsampler_loss" else csgo_agent.denoiser
    dist = case["sigma_distribution"]
    from diamond_wm.config.agent import SigmaDistributionConfig

    dist_cfg = SigmaDistributionConfig(**dist)
    offset = part.cfg.sigma_offset_noise

    def scale(name: str, value: torch.Tensor) -> torch.Tensor:
        if name.startswith(("sigma", "sigma_cond")):  # log-normal, clipped
            return (value * dist["scale"] + dist["loc"]).exp().clip(dist["sigma_min"], dist["sigma_max"])
        if "offset_noise" in name:
            return value * offset
        return value

    draws = loss_draws(case, scale)
    for ours, ref in zip(draws, case["steps"], strict=True):  # our derivation of the draws is the reference's
        for k in ("sigma", "sigma_cond", "offset_noise", "cond_offset_noise"):
            if k in ref:
                assert_close(ours[k], ref[k], k)
    b, t = case["mask_padding"].shape
    z = torch.zeros(b, t)
    batch = Batch(
        obs=case["obs"],
        act=case["act"],
        rew=z,
        end=z.to(torch.uint8),
        trunc=z.to(torch.uint8),
        mask_padding=case["mask_padding"],
        full_res=case.get("full_res"),
    )
    loss, _ = edm_denoising_loss(part, batch, dist_cfg, case["num_autoregressive_steps"], draws)
    assert_close(loss, case["loss"], "loss")


def test_csgo_inner_model_takes_no_action_embedding_when_upsampling() -> None:
    inner = InnerModelConfig(
        num_steps_conditioning=1, cond_channels=8, depths=[1, 1], channels=[4, 4], attn_depths=[0, 0]
    )
    cfg = AgentConfig(
        denoiser=None,
        upsampler=DenoiserConfig(inner_model=inner, upsampling_factor=2, sigma_offset_noise=0.1),
        rew_end_model=None,
        actor_critic=None,
    )
    agent = Agent(cfg, csgo_action_spec())
    keys = set(agent.state_dict())
    assert not any("act_emb" in k for k in keys)
    assert "upsampler.inner_model.noise_cond_emb.weight" in keys
    assert agent.upsampler.inner_model.conv_in.in_channels == 3 * 3  # previous, upsampled, noisy


def write_spawn(root, case: dict[str, Any]) -> None:
    """The case's spawn point as a published spawn folder (uint8 frames, float actions)."""
    import numpy as np

    d = root / "0"
    d.mkdir(parents=True)
    np.save(d / "low_res.npy", case["spawn_low_res"].numpy())
    np.save(d / "full_res.npy", case["spawn_full_res"].numpy())
    np.save(d / "act.npy", case["spawn_act"].numpy())
    np.save(d / "next_act.npy", case["actions"].numpy())


def test_world_model_step(csgo_data: dict[str, Any], csgo_agent: Agent, tmp_path) -> None:
    from diamond_wm.envs.csgo.spawn import SpawnPoints
    from diamond_wm.envs.world_model_env import WorldModelEnv

    case = csgo_data["cases"]["world_model_step"]
    cfg = case["config"]
    write_spawn(tmp_path, case)
    from diamond_wm.models.world_model import WorldModel

    world_model = WorldModel(
        DiffusionSampler(csgo_agent.denoiser, DiffusionSamplerConfig(**cfg["diffusion_sampler_next_obs"])),
        None,
        DiffusionSampler(csgo_agent.upsampler, DiffusionSamplerConfig(**cfg["diffusion_sampler_upsampling"])),
        csgo_action_spec(),
    )
    env = WorldModelEnv(
        world_model, SpawnPoints(tmp_path), 1, cfg["horizon"], return_denoising_trajectory=True
    )
    obs, _ = env.reset()
    assert_close(obs, case["reset_obs"], "reset_obs")
    for t, step in enumerate(case["steps"]):
        draws = Draws(step["draws"])
        # the recorded draws instead of the environment's generator
        obs, rew, end, trunc, info = env.step(case["actions"][t : t + 1], draws=SimpleNamespace(randn=draws))
        draws.done()
        assert_close(info["obs_low_res"], step["obs_low_res"], f"step {t} obs_low_res")
        assert_close(obs, step["obs_full_res"], f"step {t} obs_full_res")
        assert_close(info["denoising_trajectory"], step["denoising_trajectory"], f"step {t} trajectory")
        assert_close(info["upsampler_prev_obs"], step["upsampler_prev_obs"], f"step {t} upsampler_prev_obs")
        assert_close(
            info["denoising_trajectory_upsampling"],
            step["denoising_trajectory_upsampling"],
            f"step {t} upsampling trajectory",
        )
        assert (rew.tolist(), end.tolist(), trunc.tolist()) == (
            step["rew"].tolist(),
            step["end"].tolist(),
            step["trunc"].tolist(),
        )
        assert_close(env.obs_buffer, step["obs_buffer"], f"step {t} obs_buffer")
        # The last action slot is overwritten by the next step's action before it is used.
        assert_close(env.act_buffer[:, :-1], step["act_buffer"][:, :-1].float(), f"step {t} act_buffer")
