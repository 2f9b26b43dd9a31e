"""Diffusion sampler of Karras et al. (2022): sigma schedule, Euler / Heun steps, optional stochastic churn."""

from __future__ import annotations

import math
from typing import Optional

import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.models.denoiser import Denoiser


def get_sigmas_karras(
    num_steps: int,
    sigma_min: float,
    sigma_max: float,
    rho: float,
    device: torch.device | str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Karras schedule (EDM eq. 5) with a trailing 0: (num_steps + 1,).

    Computed in float32, as the published sampler does (sigma_max comes out as 4.9999986 rather than 5).
    This matters: a Heun step ending at sigma_min divides by it, which amplifies a 3e-7 relative difference
    in the first sigma by ~1000x, so a float64 schedule does not reproduce the published trajectories.
    """
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not 0 < sigma_min <= sigma_max:
        raise ValueError(f"need 0 < sigma_min <= sigma_max, got sigma_min={sigma_min}, sigma_max={sigma_max}")
    min_inv_rho = sigma_min ** (1 / rho)
    max_inv_rho = sigma_max ** (1 / rho)
    ramp = torch.linspace(0, 1, num_steps, dtype=torch.float32)  # (num_steps,), float32 on purpose
    sigmas = (max_inv_rho + ramp * (min_inv_rho - max_inv_rho)) ** rho  # (num_steps,)
    sigmas = torch.cat((sigmas, sigmas.new_zeros(1)))  # (num_steps + 1,)
    return sigmas.to(device=device, dtype=dtype)


class DiffusionSampler:
    """Samples the next frame from the denoiser given past frames and actions (EDM Algorithm 2)."""

    def __init__(self, denoiser: Denoiser, cfg: DiffusionSamplerConfig) -> None:
        if cfg.order not in (1, 2):
            raise ValueError(f"sampler order must be 1 (Euler) or 2 (Heun), got {cfg.order}")
        self.denoiser = denoiser
        self.cfg = cfg
        self.sigmas = get_sigmas_karras(cfg.num_steps_denoising, cfg.sigma_min, cfg.sigma_max, cfg.rho)

    @torch.no_grad()
    def sample(
        self,
        prev_obs: torch.Tensor,
        prev_act: torch.Tensor,
        x_init: Optional[torch.Tensor] = None,
        return_trajectory: bool = False,
    ) -> tuple[torch.Tensor, Optional[list[torch.Tensor]]]:
        """prev_obs (B, n, C, H, W), prev_act (B, n) -> (sample (B, C, H, W), [x_init, x_1, ...] or None)."""
        if prev_obs.ndim != 5:
            raise ValueError(f"prev_obs must be (B, n, C, H, W), got shape {tuple(prev_obs.shape)}")
        b, _, c, h, w = prev_obs.shape
        device, dtype = prev_obs.device, prev_obs.dtype
        sigmas = self.sigmas.to(device=device, dtype=dtype)
        cfg = self.cfg
        gamma_ = min(cfg.s_churn / (len(sigmas) - 1), math.sqrt(2) - 1)

        if x_init is None:
            x = torch.randn(b, c, h, w, device=device, dtype=dtype)  # (B, C, H, W)
        else:
            if x_init.shape != (b, c, h, w):
                raise ValueError(f"x_init must have shape {(b, c, h, w)}, got {tuple(x_init.shape)}")
            x = x_init
        trajectory = [x] if return_trajectory else None

        ones = torch.ones(b, device=device, dtype=dtype)  # (B,)
        values = self.sigmas.tolist()  # host copy for the branch conditions (no device syncs in the loop)
        for i, (sigma, next_sigma) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
            gamma = gamma_ if cfg.s_tmin <= values[i] <= cfg.s_tmax else 0.0
            sigma_hat = sigma * (gamma + 1)
            if gamma > 0:
                eps = torch.randn_like(x) * cfg.s_noise
                x = x + eps * (sigma_hat**2 - sigma**2).sqrt()  # churn: raise the noise level to sigma_hat
            denoised = self.denoiser.denoise(x, sigma_hat * ones, prev_obs, prev_act)  # (B, C, H, W)
            d = (x - denoised) / sigma_hat  # dx/dsigma (EDM eq. 3 with sigma(t) = t)
            dt = next_sigma - sigma_hat
            if cfg.order == 1 or values[i + 1] == 0:
                x = x + d * dt  # Euler step
            else:
                x_2 = x + d * dt
                denoised_2 = self.denoiser.denoise(x_2, next_sigma * ones, prev_obs, prev_act)
                d_2 = (x_2 - denoised_2) / next_sigma
                x = x + (d + d_2) / 2 * dt  # Heun (2nd-order) correction
            if trajectory is not None:
                trajectory.append(x)
        return x, trajectory
