"""The CS:GO world model on the bench: one played frame, and the PSNR of a fast mode's frames against float32.

`csgo_play_step` is what `diamond play` computes for each CS:GO frame at batch 1: the next 30x56 frame from the
paper-size denoiser (`agent=csgo`, 330M parameters), then its x5 upsampling to 150x280 by the diffusion upsampler
(51M), through `WorldModelEnv.step`, with the `world_model_env=fast` sampler presets (1 denoiser step, 1 upsampler
step); `csgo_play_step_hq` with `world_model_env=higher_quality` (3 and 10 steps). Random (seeded) weights, random
context frames and random keyboard-and-mouse actions. `--tiny` shrinks the networks and the frames (8x14, x5).

`psnr_csgo_50_steps` (`_hq`) compares the frames of the run's mode (precision, compile, freezing) with those of
float32 eager on the same weights along 50 steps from the same start, with the same noise and actions.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

import torch

from diamond_wm.bench.psnr import psnr_db
from diamond_wm.bench.workloads import (
    BenchSettings,
    Workload,
    autocast,
    random_frames,
    randomize_zero_layers,
)
from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.agent import AgentConfig, DiffusionSamplerConfig, InnerModelConfig
from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.agent import Agent
from diamond_wm.models.world_model import world_model_of
from diamond_wm.runtime.compile import compile_world_model, use_channels_last

# workload -> sampler preset (`world_model_env=...`)
CSGO_PRESETS = {"csgo_play_step": "fast", "csgo_play_step_hq": "higher_quality"}
CSGO_PSNR_PRESETS = {"psnr_csgo_50_steps": "fast", "psnr_csgo_hq_50_steps": "higher_quality"}
LOW_RES = (3, 30, 56)  # (C, H, W) of the denoiser's frames; the upsampler's are x5
TINY_LOW_RES = (3, 8, 14)
KEY_PRESS_PROBABILITY = 0.2  # of each key and click in the random actions


@functools.cache
def _composed(preset: str) -> tuple[AgentConfig, DiffusionSamplerConfig, DiffusionSamplerConfig]:
    from omegaconf import OmegaConf

    from diamond_wm.config.compose import compose_trainer_config

    cfg = OmegaConf.to_object(
        compose_trainer_config(["agent=csgo", f"world_model_env={preset}"], validate=False)
    )
    wm = cfg.world_model_env
    return cfg.agent, wm.diffusion_sampler_next_obs, wm.diffusion_sampler_upsampling


def csgo_agent_config(tiny: bool = False) -> AgentConfig:
    """The packaged `agent=csgo` config; tiny: the same layout (denoiser, x5 upsampler) with tiny U-Nets."""
    cfg = _composed("fast")[0]
    if not tiny:
        return cfg
    small = InnerModelConfig(cond_channels=16, depths=[1, 1], channels=[8, 8], attn_depths=[0, 1])

    def shrink(part):
        inner = dataclasses.replace(small, num_steps_conditioning=part.inner_model.num_steps_conditioning)
        return dataclasses.replace(part, inner_model=inner)

    return dataclasses.replace(cfg, denoiser=shrink(cfg.denoiser), upsampler=shrink(cfg.upsampler))


def csgo_sampler_configs(preset: str) -> tuple[DiffusionSamplerConfig, DiffusionSamplerConfig]:
    """(next frame, upsampling) sampler configs of the packaged `world_model_env=<preset>`."""
    return _composed(preset)[1:]


def build_csgo_agent(settings: BenchSettings) -> Agent:
    """The CS:GO world model (paper-size or tiny) with random seeded weights, on the bench device, compiled if
    asked."""
    torch.manual_seed(settings.seed)
    agent = Agent(csgo_agent_config(settings.tiny), csgo_action_spec())
    randomize_zero_layers(agent)
    agent = agent.to(settings.device).eval()
    if settings.channels_last:
        use_channels_last(agent)
    if settings.compile:
        compile_world_model(agent, freeze=settings.freeze, cuda_graphs=settings.cuda_graphs)
    return agent


def random_actions(spec: ActionSpec, count: int, gen: torch.Generator) -> torch.Tensor:
    """(count, D) valid multi-hot actions: each free dimension pressed with KEY_PRESS_PROBABILITY, one random
    dimension of each one-hot group."""
    parts = []
    for g in spec.groups:
        if g.one_hot:
            idx = torch.randint(0, g.size, (count,), generator=gen)
            parts.append(torch.nn.functional.one_hot(idx, g.size).float())
        else:
            parts.append((torch.rand(count, g.size, generator=gen) < KEY_PRESS_PROBABILITY).float())
    return torch.cat(parts, dim=1)


def csgo_context_source(agent: Agent, settings: BenchSettings) -> Callable:
    """Spawn points of random frames and actions: (low_res (N, n, C, h, w), act (N, n, D), full_res (N, n, C, H,
    W)), as `WorldModelEnv` takes them."""
    c, h, w = TINY_LOW_RES if settings.tiny else LOW_RES
    n = agent.denoiser.num_steps_conditioning
    factor = int(agent.upsampler.cfg.upsampling_factor)
    spec = agent.action_spec

    def source(count: int, generator: torch.Generator) -> tuple[torch.Tensor, ...]:
        gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
        low = random_frames((count, n, c, h, w), gen, settings.device)
        act = random_actions(spec, count * n, gen).view(count, n, -1).to(settings.device)
        full = random_frames((count, n, c, h * factor, w * factor), gen, settings.device)
        return low, act, full

    return source


def make_csgo_env(agent: Agent, settings: BenchSettings, preset: str) -> WorldModelEnv:
    """One CS:GO world-model environment with the sampler preset, seeded, never truncating."""
    next_obs, upsampling = csgo_sampler_configs(preset)
    world_model = world_model_of(agent, next_obs, upsampling, seed=settings.seed)
    env = WorldModelEnv(world_model, csgo_context_source(agent, settings), num_envs=1, horizon=10**9)
    with torch.inference_mode():  # as the steps: a compiled U-Net would recompile for tensors made outside it
        env.reset(seed=settings.seed)
    return env


def _play_step(name: str) -> Callable[[Agent, BenchSettings], Workload]:
    preset = CSGO_PRESETS[name]

    def build(agent: Agent, settings: BenchSettings) -> Workload:
        env = make_csgo_env(agent, settings, preset)
        gen = torch.Generator().manual_seed(settings.seed + 7)

        @torch.inference_mode()
        def step() -> None:
            act = random_actions(agent.action_spec, 1, gen)
            with autocast(settings):
                env.step(act)

        return Workload(name, step, env.close)

    build.__doc__ = f"One CS:GO frame at batch 1 with the {preset} sampler presets: denoiser, then upsampler."
    return build


CSGO_BUILDERS: dict[str, Callable[[Agent, BenchSettings], Workload]] = {
    name: _play_step(name) for name in CSGO_PRESETS
}


def fp32_eager(settings: BenchSettings) -> BenchSettings:
    """The reference mode of the PSNR: float32, not compiled."""
    return dataclasses.replace(settings, precision="fp32", compile=False, freeze=False, channels_last=False)


@torch.inference_mode()
def csgo_psnr(
    agent: Agent, reference: Agent, settings: BenchSettings, preset: str, steps: int = 50
) -> tuple[list[float], list[float]]:
    """Per-step PSNR (dB) of the full-resolution frames of `agent` in the run's mode against `reference`'s in float32
    eager (same weights), both from the same spawn point with the same noise and actions.

    -> (free-running: each environment feeds back its own frames, so differences compound; one step: at every step
    of the float32 rollout, the mode's frame from float32's state and random state: the error the mode adds to
    each frame)."""
    ref_settings = fp32_eager(settings)
    ref_env, free_env, step_env = (
        make_csgo_env(reference, ref_settings, preset),
        make_csgo_env(agent, settings, preset),
        make_csgo_env(agent, settings, preset),
    )
    gen = torch.Generator().manual_seed(settings.seed + 8)
    free, one_step = [], []
    for _ in range(steps):
        act = random_actions(agent.action_spec, 1, gen)
        state = ref_env.state_dict()  # the generators' states included
        ref = ref_env.step(act)[0]
        step_env.load_state_dict(state)
        with autocast(settings):
            one_step.append(psnr_db(ref, step_env.step(act)[0]))
            free.append(psnr_db(ref, free_env.step(act)[0]))
    return free, one_step
