"""DDPM denoiser (Ho et al. 2020) of the paper's comparison: the EDM denoiser's U-Net predicting the noise, without
preconditioning; its weights are `noise_model.*` (`denoiser.noise_model.*` in an agent checkpoint)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from diamond_wm.config.agent import DenoiserConfig, DiffusionSamplerConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.diffusion.ddpm_sampler import DDPMSampler
from diamond_wm.models.diffusion.ddpm_schedule import DDPMSchedule
from diamond_wm.models.diffusion.denoiser import quantize
from diamond_wm.models.diffusion.loss import ddpm_denoising_loss
from diamond_wm.models.diffusion.preconditioning import bcast
from diamond_wm.models.inner_model import InnerModel


class DDPMDenoiser(nn.Module):
    """eps_theta(x_t, t) conditioned on past frames and actions; next frames by `DDPMSampler`."""

    def __init__(self, cfg: DenoiserConfig, schedule: Optional[DDPMSchedule] = None) -> None:
        super().__init__()
        if cfg.parameterisation != "ddpm":
            raise ValueError(f"DDPMDenoiser needs parameterisation 'ddpm', got {cfg.parameterisation!r}")
        self.cfg = cfg
        self.schedule = schedule if schedule is not None else DDPMSchedule()
        self.noise_model = InnerModel(cfg.inner_model)

    @property
    def inner_model(self) -> InnerModel:
        """The U-Net, under the EDM denoiser's name (what `torch.compile` and benchmarks address)."""
        return self.noise_model

    @property
    def num_steps_conditioning(self) -> int:
        """Number of past frames (and actions) the denoiser is conditioned on."""
        return self.cfg.inner_model.num_steps_conditioning

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.noise_model.noise_emb.weight.device

    def compute_c_noise(self, t: torch.Tensor) -> torch.Tensor:
        """The network's noise input (t + 1) / T for integer timesteps t (B,): (B,) float32."""
        return (t + 1) / self.schedule.num_train_timesteps

    def predict_noise(
        self, noisy_next_obs: torch.Tensor, t: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """eps_theta: x_t (B, C, H, W) and past frames obs (B, n, C, H, W), both as they are in [-1, 1] (no
        rescaling), past frames first on channels; t (B,) int64; act (B, n) -> predicted noise (B, C, H, W)."""
        n = self.num_steps_conditioning
        if noisy_next_obs.ndim != 4:
            raise ValueError(f"noisy_next_obs must be (B, C, H, W), got shape {tuple(noisy_next_obs.shape)}")
        b = noisy_next_obs.shape[0]
        if obs.ndim != 5 or obs.shape[:2] != (b, n):
            raise ValueError(f"obs must be ({b}, {n}, C, H, W), got shape {tuple(obs.shape)}")
        if act.shape[:2] != (b, n):
            raise ValueError(f"act must be ({b}, {n}), got shape {tuple(act.shape)}")
        if t.shape != (b,):
            raise ValueError(f"t must be ({b},) timesteps, got shape {tuple(t.shape)}")
        c_noise = self.compute_c_noise(t)  # (B,)
        return self.noise_model(noisy_next_obs, c_noise, obs.flatten(1, 2), act)  # (B, C, H, W)

    def denoise(
        self, noisy_next_obs: torch.Tensor, t: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """The clean frame predicted at timesteps t (B,), clamped and quantized to 8 bits: (B, C, H, W)."""
        eps = self.predict_noise(noisy_next_obs, t, obs, act)
        return self.wrap_model_output(noisy_next_obs, eps, t)

    def wrap_model_output(
        self, noisy_next_obs: torch.Tensor, eps: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t) (eq. 4 solved for x_0) at timesteps t (B,), clamped to
        [-1, 1] and quantized to 8 bits: (B, C, H, W)."""
        abar = bcast(self.schedule.alphas_cumprod.to(t.device)[t], noisy_next_obs.ndim)  # (B, 1, 1, 1)
        return quantize((noisy_next_obs - (1 - abar) ** 0.5 * eps) / abar**0.5)

    @property
    def max_denoising_steps(self) -> int:
        """A DDPM denoiser samples with at most its number of training timesteps."""
        return self.schedule.num_train_timesteps

    def build_sampler(
        self, cfg: DiffusionSamplerConfig, generator: Optional[torch.Generator] = None
    ) -> DDPMSampler:
        """The next-frame sampler: ancestral DDPM sampling (posterior noise from `generator`, unless the caller
        gives its draws)."""
        return DDPMSampler(self, cfg, generator)

    def compute_loss(
        self,
        batch: Batch,
        sigma_distribution: Optional[SigmaDistributionConfig] = None,
        num_autoregressive_steps: Optional[int] = None,
        draws: Optional[list[dict[str, torch.Tensor]]] = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The DDPM training loss on `batch` (timesteps uniform: `sigma_distribution`, EDM's, is not used): see
        `diamond_wm.models.diffusion.loss.ddpm_denoising_loss`."""
        return ddpm_denoising_loss(self, batch, num_autoregressive_steps, draws)
