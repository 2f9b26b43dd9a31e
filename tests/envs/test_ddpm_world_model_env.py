"""`WorldModelEnv` over the DDPM sampler: imagined steps, and the same imagination for the same seed (the sampler's
posterior noise comes from each environment's generator)."""

from __future__ import annotations

import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DDPMSampler, build_sampler
from diamond_wm.models.world_model import WorldModel
from tests.envs.test_world_model_env import NUM_ACTIONS, random_contexts
from tests.models.conftest import tiny_agent_config


def make_env(num_envs: int, steps: int) -> WorldModelEnv:
    torch.manual_seed(0)
    cfg = tiny_agent_config()
    cfg.denoiser.parameterisation = "ddpm"
    agent = Agent(cfg, NUM_ACTIONS).eval()
    sampler = build_sampler(agent.denoiser, DiffusionSamplerConfig(num_steps_denoising=steps))
    assert isinstance(sampler, DDPMSampler)
    world_model = WorldModel(sampler, agent.rew_end_model)
    return WorldModelEnv(
        world_model, random_contexts(), num_envs, horizon=4, return_denoising_trajectory=True
    )


def test_ddpm_imagination_is_seeded_by_the_environment():
    acts = torch.randint(0, NUM_ACTIONS, (6, 3), generator=torch.Generator().manual_seed(1))

    def roll(seed: int, global_seed: int = 0) -> list[torch.Tensor]:
        env = make_env(3, steps=3)
        torch.manual_seed(global_seed)  # the global RNG must play no part
        env.reset(seed=seed)
        frames = []
        for act in acts:
            obs, _, _, _, info = env.step(act)
            assert obs.shape == (3, 3, 16, 16) and obs.min() >= -1 and obs.max() <= 1
            assert info["denoising_trajectory"].shape == (3, 4, 3, 16, 16)  # x_init + 3 steps
            frames.append(info["final_observation"])
        return frames

    first = roll(0)
    assert all(torch.equal(a, b) for a, b in zip(first, roll(0, global_seed=1), strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, roll(1), strict=True))
