"""Effect of bf16 autocast on imagined frames: PSNR against float32 along one imagined rollout."""

from __future__ import annotations

import contextlib
import math

import torch

from diamond_wm.bench.workloads import NUM_ACTIONS, BenchSettings, make_wm_env
from diamond_wm.models.agent import Agent

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
    contexts = [contextlib.nullcontext, lambda: torch.autocast(settings.device.type, dtype=torch.bfloat16)]
    out = []
    for _ in range(steps):
        act = torch.randint(0, NUM_ACTIONS, (num_envs,), generator=gen)
        frames = []
        for env, ctx in zip(envs, contexts, strict=True):
            with ctx():
                frames.append(env.step(act)[0])
        out.append(psnr_db(frames[0], frames[1]))
    return out
