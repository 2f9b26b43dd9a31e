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
        prev_act: Optional[torch.Tensor],
        x_init: Optional[torch.Tensor] = None,
        return_trajectory: bool = False,
        randn: Optional[Randn] = None,
    ) -> tuple[torch.Tensor, Optional[list[torch.Tensor]]]:
        """prev_obs (B, n, C, H, W) conditioning frames (an upsampler's: the previous full-resolution frame and the
        upsampled low-resolution one), prev_act (B, n[, D]) or None (upsampler) -> (sample (B, C, H, W),
        [x_init, x_1, ...] or None).

        Random draws (x_init if not given, churn, conditioning noise) come from `randn(shape)`, in the published
        order; by default from torch's global generator. With `s_cond` > 0 (CS:GO), every step adds s_cond * N(0, 1)
        to the conditioning frames and keeps it (the noise accumulates over the steps) while the network is told
        sigma_cond = s_cond; each such step also draws a per-channel offset noise that the published sampler
        multiplies by 0, drawn here too so that the random stream stays the same."""
        if prev_obs.ndim != 5:
            raise ValueError(f"prev_obs must be (B, n, C, H, W), got shape {tuple(prev_obs.shape)}")
        b, _, c, h, w = prev_obs.shape
        device, dtype = prev_obs.device, prev_obs.dtype
        randn = randn or (lambda shape: torch.randn(shape, device=device, dtype=dtype))
        if x_init is None:
            x = randn((b, c, h, w))  # (B, C, H, W)
        else:
            if x_init.shape != (b, c, h, w):
                raise ValueError(f"x_init must have shape {(b, c, h, w)}, got {tuple(x_init.shape)}")
            x = x_init
        trajectory = [x] if return_trajectory else None
        cfg = self.cfg
        s_cond = float(cfg.s_cond)
        sigma_cond = x.new_full((b,), s_cond) if s_cond > 0 else None
        cond = {"obs": prev_obs}

        def noise_conditioning(_step: int) -> None:
            flat = cond["obs"].flatten(1, 2)  # (B, n * C, H, W)
            randn((*flat.shape[:2], 1, 1))  # the published offset noise of the conditioning, times 0
            cond["obs"] = (flat + s_cond * randn(tuple(flat.shape))).view_as(prev_obs)

        x = sample_euler_heun(
            lambda x_, sigma: self.denoiser.denoise(x_, sigma, cond["obs"], prev_act, sigma_cond),
            x,
            self.sigmas.to(device=device, dtype=dtype),
            order=cfg.order,
            s_churn=cfg.s_churn,
            s_tmin=cfg.s_tmin,
            s_tmax=cfg.s_tmax,
            s_noise=cfg.s_noise,
            trajectory=trajectory,
            randn=randn,
            before_step=noise_conditioning if s_cond > 0 else None,
        )
        return x, trajectory
