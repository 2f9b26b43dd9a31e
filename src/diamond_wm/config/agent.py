"""Typed configuration of the agent's networks (tree and key names of the published `config/agent/default.yaml`).

Default values are the paper's Atari 100k settings. `num_actions` is not part of the YAML: it is filled in from
the environment's action space before the networks are built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class InnerModelConfig:
    """U-Net of the EDM denoiser."""

    img_channels: int = 3
    num_steps_conditioning: int = 4
    cond_channels: int = 256
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    channels: list[int] = field(default_factory=lambda: [64, 64, 64, 64])
    attn_depths: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    num_actions: Optional[int] = None


DENOISER_PARAMETERISATIONS = ("edm", "ddpm")
DDPM_NUM_TRAIN_TIMESTEPS = 1000  # the published DDPM world model's T


@dataclass
class DenoiserConfig:
    """Next-frame denoiser with DIAMOND's offset noise: EDM (Karras et al. 2022, the paper's world model) or, with
    `parameterisation: ddpm`, DDPM noise prediction (Ho et al. 2020, the paper's comparison; `sigma_data` unused)."""

    inner_model: InnerModelConfig = field(default_factory=InnerModelConfig)
    sigma_data: float = 0.5
    sigma_offset_noise: float = 0.3
    parameterisation: str = "edm"
    # The CS:GO world model's keys (its published config): noise the past frames at training time, with the noise
    # level as a second conditioning input; or be an upsampler of low-resolution frames by this factor, conditioned
    # on the previous full-resolution frame (and no action).
    noise_previous_obs: bool = False
    upsampling_factor: Optional[int] = None
    # Whether the network embeds the conditioning frames' noise level (`noise_cond_emb`): None = as published, the
    # CS:GO networks (noise_previous_obs or upsampling_factor set) do and the Atari ones do not.
    noise_cond_embedding: Optional[bool] = None

    @property
    def embeds_noise_cond(self) -> bool:
        """Whether the network has a `noise_cond_emb` (see `noise_cond_embedding`)."""
        if self.noise_cond_embedding is not None:
            return bool(self.noise_cond_embedding)
        return bool(self.noise_previous_obs) or self.upsampling_factor is not None


@dataclass
class RewEndModelConfig:
    """Reward/termination model: (frame, next frame, action) encoder + LSTM + two heads."""

    lstm_dim: int = 512
    img_channels: int = 3
    img_size: int = 64
    cond_channels: int = 128
    depths: list[int] = field(default_factory=lambda: [2, 2, 2, 2])
    channels: list[int] = field(default_factory=lambda: [32, 32, 32, 32])
    attn_depths: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    num_actions: Optional[int] = None


@dataclass
class ActorCriticConfig:
    """CNN-LSTM actor-critic."""

    lstm_dim: int = 512
    img_channels: int = 3
    img_size: int = 64
    channels: list[int] = field(default_factory=lambda: [32, 32, 64, 64])
    down: list[int] = field(default_factory=lambda: [1, 1, 1, 1])
    num_actions: Optional[int] = None
    # The value is the critic head's output times this (1: the published critic). The head starts at zero and
    # Adam moves each of its weights by about the learning rate per update, so after n updates it can output at
    # most ~n * lr * (lstm_dim + 1); returns beyond that are reached by pushing the shared LSTM's units to +-1.
    # A larger scale lets a small, briefly trained actor-critic reach its returns with its units in range.
    value_scale: float = 1.0


@dataclass
class AgentConfig:
    """The networks of a DIAMOND agent; a part set to null (None) is absent (e.g. a world model without an
    actor-critic)."""

    denoiser: Optional[DenoiserConfig] = field(default_factory=DenoiserConfig)
    upsampler: Optional[DenoiserConfig] = None  # the CS:GO world model's x5 diffusion upsampler
    rew_end_model: Optional[RewEndModelConfig] = field(default_factory=RewEndModelConfig)
    actor_critic: Optional[ActorCriticConfig] = field(default_factory=ActorCriticConfig)
    num_actions: Optional[int] = None


@dataclass
class SigmaDistributionConfig:
    """Log-normal distribution of training noise levels, clipped to [sigma_min, sigma_max]."""

    loc: float = -0.4
    scale: float = 1.2
    sigma_min: float = 2e-3
    sigma_max: float = 20.0


@dataclass
class DiffusionSamplerConfig:
    """Karras et al. (2022) sampler: schedule, Euler (order 1) or Heun (order 2), optional churn."""

    num_steps_denoising: int = 3
    sigma_min: float = 2e-3
    sigma_max: float = 5.0
    rho: int = 7
    order: int = 1
    s_churn: float = 0.0
    s_tmin: float = 0.0
    s_tmax: float = float("inf")
    s_noise: float = 1.0
    # Noise added to the conditioning frames at every step (CS:GO), accumulating across steps.
    s_cond: float = 0.0


@dataclass
class ActorCriticLossConfig:
    """Actor-critic loss in imagination: lambda-returns, value loss, entropy bonus."""

    backup_every: int = 15
    gamma: float = 0.985
    lambda_: float = 0.95
    weight_value_loss: float = 1.0
    weight_entropy_loss: float = 0.001
