"""Samplers over a denoising callable `denoise(x, sigma) -> denoised` (k-diffusion's shape): they know nothing
of what the network is conditioned on, which the caller closes over (`DiffusionSampler` does, for the next frame
given past frames and actions)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.models.diffusion.schedules import get_sigmas_karras

if TYPE_CHECKING:
    from diamond_wm.models.diffusion.denoiser import Denoiser

Denoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x (B, ...), sigma (B,)) -> denoised x
Randn = Callable[[tuple[int, ...]], torch.Tensor]  # shape -> standard normal values (a generator's draws)


@torch.no_grad()
def sample_euler_heun(
    denoise: Denoise,
    x: torch.Tensor,
    sigmas: torch.Tensor,
    order: int = 1,
    s_churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
    trajectory: Optional[list[torch.Tensor]] = None,
    randn: Optional[Randn] = None,
    before_step: Optional[Callable[[int], None]] = None,
) -> torch.Tensor:
    """EDM's stochastic sampler (Karras et al. 2022, Algorithm 2) as DIAMOND runs it: Euler steps (order 1) or Heun
    steps (order 2, except the last step to sigma 0), with churn gamma = min(s_churn / steps, sqrt(2) - 1) where
    s_tmin <= sigma <= s_tmax. `x` starts at noise level sigmas[0]; each new x is appended to `trajectory`.

    As in the published code, the network is evaluated at sigma while the derivative and the step use sigma_hat
    (Algorithm 2 evaluates at sigma_hat; the two agree without churn). Churn noise comes from `randn(shape)`
    (default: torch's global generator); `before_step(i)` runs before step i's first evaluation (the CS:GO
    sampler noises its conditioning frames there)."""
    if order not in (1, 2):
        raise ValueError(f"sampler order must be 1 (Euler) or 2 (Heun), got {order}")
    randn = randn or (lambda shape: torch.randn(shape, device=x.device, dtype=x.dtype))
    b = x.shape[0]
    ones = x.new_ones(b)  # (B,)
    values = sigmas.tolist()  # host copy for the branch conditions (no device syncs in the loop)
    gamma_ = min(s_churn / (len(values) - 1), math.sqrt(2) - 1)
    for i, (sigma, next_sigma) in enumerate(zip(sigmas[:-1], sigmas[1:], strict=True)):
        gamma = gamma_ if s_tmin <= values[i] <= s_tmax else 0.0
        sigma_hat = sigma * (gamma + 1)
        if gamma > 0:
            eps = randn(x.shape) * s_noise
            x = x + eps * (sigma_hat**2 - sigma**2).sqrt()  # churn: raise the noise level to sigma_hat
        if before_step is not None:
            before_step(i)
        denoised = denoise(x, sigma * ones)
        d = (x - denoised) / sigma_hat  # dx/dsigma (EDM eq. 3 with sigma(t) = t)
        dt = next_sigma - sigma_hat
        if order == 1 or values[i + 1] == 0:
            x = x + d * dt  # Euler step
        else:
            x_2 = x + d * dt
            d_2 = (x_2 - denoise(x_2, next_sigma * ones)) / next_sigma
            x = x + (d + d_2) / 2 * dt  # Heun (2nd-order) correction
        if trajectory is not None:
            trajectory.append(x)
    return x


class DiffusionSampler:
    """Samples a denoiser's next frame given past frames and actions, with the configured schedule and steps."""

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
        if x_init is None:
            x = torch.randn(b, c, h, w, device=device, dtype=dtype)  # (B, C, H, W)
        else:
            if x_init.shape != (b, c, h, w):
                raise ValueError(f"x_init must have shape {(b, c, h, w)}, got {tuple(x_init.shape)}")
            x = x_init
        trajectory = [x] if return_trajectory else None
        cfg = self.cfg
        x = sample_euler_heun(
            lambda x_, sigma: self.denoiser.denoise(x_, sigma, prev_obs, prev_act),
            x,
            self.sigmas.to(device=device, dtype=dtype),
            order=cfg.order,
            s_churn=cfg.s_churn,
            s_tmin=cfg.s_tmin,
            s_tmax=cfg.s_tmax,
            s_noise=cfg.s_noise,
            trajectory=trajectory,
        )
        return x, trajectory
