"""Effect of bf16 autocast on imagined frames: PSNR against float32 along one imagined rollout."""

from __future__ import annotations

import math

import torch

from diamond_wm.bench.workloads import NUM_ACTIONS, BenchSettings, context_source, img_shape, make_wm_env
from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.runtime.precision import autocast

MAX_PSNR_DB = 100.0  # reported for identical frames (the PSNR is infinite)


def psnr_db(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of frames in [-1, 1] (peak-to-peak 2), capped at MAX_PSNR_DB."""
    mse = (a.float() - b.float()).pow(2).mean().item()
    return MAX_PSNR_DB if mse == 0 else min(MAX_PSNR_DB, 10 * math.log10(4.0 / mse))


@torch.inference_mode()
def bf16_rollout_psnr(
    agent: Agent, settings: BenchSettings, steps: int = 50, num_envs: int = 4
) -> list[float]:
    """Per-step PSNR (dB) of the frames imagined under bf16 autocast against float32 ones.

    Two world-model environments with the same seed start from the same contexts, draw the same initial noise
    and receive the same random actions for `steps` steps, each feeding back its own frames (so differences
    compound along the rollout, as they do in imagination and play).
    """
    envs = [make_wm_env(agent, settings, num_envs, horizon=10**9) for _ in range(2)]
    for env in envs:
        env.reset(seed=settings.seed)
    gen = torch.Generator().manual_seed(settings.seed + 5)
    contexts = [lambda: autocast(settings.device, "fp32"), lambda: autocast(settings.device, "bf16")]
    out = []
    for _ in range(steps):
        act = torch.randint(0, NUM_ACTIONS, (num_envs,), generator=gen)
        frames = []
        for env, ctx in zip(envs, contexts, strict=True):
            with ctx():
                frames.append(env.step(act)[0])
        out.append(psnr_db(frames[0], frames[1]))
    return out


@torch.inference_mode()
def bf16_one_step_psnr(
    agent: Agent, settings: BenchSettings, steps: int = 50, num_envs: int = 4
) -> list[float]:
    """Per-step PSNR (dB) of bf16-autocast next frames against float32 ones, both predicted from the same
    float32 context at every step of one float32 rollout (same noise, same actions): the error bf16 adds to
    each imagined frame, without the compounding of `bf16_rollout_psnr`."""
    n = agent.denoiser.num_steps_conditioning
    gen = torch.Generator().manual_seed(settings.seed + 6)
    obs, act = context_source(img_shape(agent), n, settings.device)(num_envs, gen)
    sampler = DiffusionSampler(agent.denoiser, DiffusionSamplerConfig())
    out = []
    for _ in range(steps):
        act[:, -1] = torch.randint(0, NUM_ACTIONS, (num_envs,), generator=gen).to(settings.device)
        x_init = torch.randn(obs[:, -1].shape, generator=gen).to(settings.device)
        ref = sampler.sample(obs, act, x_init=x_init)[0]
        with autocast(settings.device, "bf16"):
            low = sampler.sample(obs, act, x_init=x_init)[0]
        out.append(psnr_db(ref, low))
        obs = torch.cat((obs[:, 1:], ref.unsqueeze(1)), dim=1)
        act = torch.cat((act[:, 1:], torch.zeros_like(act[:, :1])), dim=1)
    return out
