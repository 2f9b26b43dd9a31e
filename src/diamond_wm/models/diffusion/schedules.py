"""Noise levels: the sampling schedule and the training distribution (EDM, Karras et al. 2022)."""

from __future__ import annotations

from typing import Optional

import torch

from diamond_wm.config.agent import SigmaDistributionConfig


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


def sample_sigma_training(
    n: int,
    cfg: SigmaDistributionConfig,
    device: torch.device | str = "cpu",
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Log-normal training noise levels exp(loc + scale * N(0, 1)) (EDM Table 1, P_mean/P_std), clipped to
    [sigma_min, sigma_max]: (n,)."""
    s = torch.randn(n, device=device, generator=generator) * cfg.scale + cfg.loc
    return s.exp().clip(cfg.sigma_min, cfg.sigma_max)
