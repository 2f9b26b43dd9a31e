"""Values the published YAML derived with an `eval` resolver, computed here from the composed config."""

from __future__ import annotations

from diamond_wm.config.trainer import TrainerConfig


def denoiser_seq_length(cfg: TrainerConfig) -> int:
    """Frames per denoiser training segment: conditioning frames + 1 target + autoregressive steps."""
    n = cfg.agent.denoiser.inner_model.num_steps_conditioning
    return n + 1 + cfg.denoiser.training.num_autoregressive_steps


def upsampler_seq_length(cfg: TrainerConfig) -> int:
    """Frames per upsampler training segment: its conditioning frame + 1 target + autoregressive steps (CS:GO: 3)."""
    assert cfg.agent.upsampler is not None
    n = cfg.agent.upsampler.inner_model.num_steps_conditioning
    return n + 1 + cfg.upsampler.training.num_autoregressive_steps


def rew_end_seq_length(cfg: TrainerConfig) -> int:
    """Steps per reward/termination training segment: imagination horizon + conditioning frames (19)."""
    return cfg.world_model_env.horizon + cfg.agent.denoiser.inner_model.num_steps_conditioning


def actor_critic_burn_in_length(cfg: TrainerConfig) -> int:
    """Real frames that start an imagined rollout (the denoiser's conditioning context)."""
    return cfg.agent.denoiser.inner_model.num_steps_conditioning
