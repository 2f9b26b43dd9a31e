"""EDM denoiser (Karras et al. 2022) as DIAMOND uses it: the U-Net behind EDM preconditioning, 8-bit outputs."""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from diamond_wm.config.agent import DenoiserConfig, DiffusionSamplerConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.diffusion.loss import edm_denoising_loss
from diamond_wm.models.diffusion.preconditioning import Conditioners, EDMPreconditioning, bcast
from diamond_wm.models.diffusion.samplers import DiffusionSampler
from diamond_wm.models.inner_model import InnerModel


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1] and quantize to 8 bits (truncation, as a uint8 cast does), mapped back to [-1, 1]."""
    return x.clamp(-1, 1).add(1).div(2).mul(255).byte().div(255).mul(2).sub(1)


def _per_row(x: torch.Tensor | float, b: int, like: torch.Tensor) -> torch.Tensor:
    """A scalar or (B,) value as (B,) in `like`'s dtype and device."""
    x = torch.as_tensor(x, dtype=like.dtype, device=like.device)
    return x.reshape(-1).expand(b) if x.numel() == 1 else x.reshape(b)


class Denoiser(nn.Module):
    """D_theta(x; sigma) = c_skip x + c_out F_theta(c_in x; c_noise), conditioned on past frames and actions."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.preconditioning = EDMPreconditioning(cfg.sigma_data, cfg.sigma_offset_noise)
        self.is_upsampler = cfg.upsampling_factor is not None
        self.inner_model = InnerModel(cfg.inner_model, cfg.embeds_noise_cond, self.is_upsampler)

    @property
    def num_steps_conditioning(self) -> int:
        """Number of past frames (and actions) the denoiser is conditioned on."""
        return self.cfg.inner_model.num_steps_conditioning

    @property
    def num_conditioning_frames(self) -> int:
        """Frames in `obs`: the past frames, and for an upsampler also the upsampled low-resolution frame."""
        return self.num_steps_conditioning + int(self.is_upsampler)

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.inner_model.noise_emb.weight.device

    def compute_conditioners(
        self, sigma: torch.Tensor, sigma_cond: Optional[torch.Tensor] = None
    ) -> Conditioners:
        """Preconditioning coefficients for noise levels sigma (B,) (and sigma_cond (B,) of noised conditioning)."""
        return self.preconditioning(sigma, sigma_cond)

    def compute_model_output(
        self, noisy_next_obs: torch.Tensor, obs: torch.Tensor, act: Optional[torch.Tensor], cs: Conditioners
    ) -> torch.Tensor:
        """F_theta(c_in x; c_noise) with past frames divided by sigma_data: obs (B, n, C, H, W) or (B, n*C, H, W)."""
        if obs.ndim == 5:
            obs = obs.flatten(1, 2)  # (B, n * C, H, W)
        rescaled_obs = obs / self.cfg.sigma_data
        rescaled_noise = noisy_next_obs * bcast(cs.c_in, noisy_next_obs.ndim)  # (B, C, H, W)
        # (B, C, H, W)
        return self.inner_model(rescaled_noise, cs.c_noise, rescaled_obs, act, cs.c_noise_cond)

    def wrap_model_output(
        self, noisy_next_obs: torch.Tensor, model_output: torch.Tensor, cs: Conditioners
    ) -> torch.Tensor:
        """D = c_skip x + c_out F (EDM eq. 7), then clamped to [-1, 1] and quantized to 8 bits: (B, C, H, W)."""
        nd = noisy_next_obs.ndim
        d = bcast(cs.c_skip, nd) * noisy_next_obs + bcast(cs.c_out, nd) * model_output  # (B, C, H, W)
        return quantize(d)

    def _check_inputs(
        self, noisy_next_obs: torch.Tensor, obs: torch.Tensor, act: Optional[torch.Tensor]
    ) -> None:
        n = self.num_steps_conditioning
        if noisy_next_obs.ndim != 4:
            raise ValueError(f"noisy_next_obs must be (B, C, H, W), got shape {tuple(noisy_next_obs.shape)}")
        if obs.ndim != 5 or obs.shape[1] != self.num_conditioning_frames:
            raise ValueError(
                f"obs must be (B, {self.num_conditioning_frames}, C, H, W), got shape {tuple(obs.shape)}"
            )
        if self.is_upsampler:
            return  # no action: an upsampler is conditioned on frames only
        if act.shape[:2] != (obs.shape[0], n) or act.ndim != (3 if act.is_floating_point() else 2):
            raise ValueError(
                f"act must be (B, {n}) = {(obs.shape[0], n)} indices or (B, {n}, D) vectors, got shape "
                f"{tuple(act.shape)}"
            )

    def denoise(
        self,
        noisy_next_obs: torch.Tensor,
        sigma: torch.Tensor,
        obs: torch.Tensor,
        act: Optional[torch.Tensor],
        sigma_cond: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """Denoised next frame (clamped, quantized): noisy (B, C, H, W), sigma (B,) or scalar, obs (B, n, C, H, W)
        (an upsampler's: previous full-resolution frame, upsampled low-resolution frame), act (B, n[, D]) or None,
        sigma_cond (B,) or scalar: noise level of the conditioning frames (None: not noised)."""
        self._check_inputs(noisy_next_obs, obs, act)
        b = noisy_next_obs.shape[0]
        sigma = _per_row(sigma, b, noisy_next_obs)
        sigma_cond = _per_row(sigma_cond, b, noisy_next_obs) if sigma_cond is not None else None
        cs = self.compute_conditioners(sigma, sigma_cond)
        model_output = self.compute_model_output(noisy_next_obs, obs, act, cs)
        return self.wrap_model_output(noisy_next_obs, model_output, cs)

    max_denoising_steps = None  # any number of steps of the Karras schedule

    def build_sampler(
        self, cfg: DiffusionSamplerConfig, generator: Optional[torch.Generator] = None
    ) -> DiffusionSampler:
        """The next-frame sampler: EDM's Euler/Heun sampler (its draws come from the caller's `randn`, so it
        needs no generator of its own)."""
        return DiffusionSampler(self, cfg)

    def compute_loss(
        self,
        batch: Batch,
        sigma_distribution: SigmaDistributionConfig,
        num_autoregressive_steps: Optional[int] = None,
        draws: Optional[list[dict[str, torch.Tensor]]] = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """The EDM training loss on `batch`: see `diamond_wm.models.diffusion.loss.edm_denoising_loss`."""
        return edm_denoising_loss(self, batch, sigma_distribution, num_autoregressive_steps, draws)
