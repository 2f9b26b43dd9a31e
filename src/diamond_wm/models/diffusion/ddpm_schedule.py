"""DDPM's noise schedule (Ho et al. 2020): the forward process, the clean frame from predicted noise and the
posterior step, over the discrete timesteps t = 0 .. T - 1.

The tables are float32, computed as the published DDPM world model's scheduler computed them (linspace then
cumulative product), so that the same timesteps give the same coefficients bit for bit.
"""

from __future__ import annotations

from typing import Optional

import torch

from diamond_wm.config.agent import DDPM_NUM_TRAIN_TIMESTEPS
from diamond_wm.models.diffusion.preconditioning import bcast

BETA_START = 1e-4
BETA_END = 0.02


class DDPMSchedule:
    """Linear betas from `beta_start` to `beta_end` over `num_train_timesteps` steps (Ho et al. 2020, sec. 4), with
    alphas_cumprod[t] = prod_{s <= t} (1 - betas[s]) (abar_t, eq. 4), both (T,) float32 on the CPU."""

    def __init__(
        self,
        num_train_timesteps: int = DDPM_NUM_TRAIN_TIMESTEPS,
        beta_start: float = BETA_START,
        beta_end: float = BETA_END,
    ) -> None:
        if num_train_timesteps < 2:
            raise ValueError(f"num_train_timesteps must be >= 2, got {num_train_timesteps}")
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1, got {beta_start}, {beta_end}")
        self.num_train_timesteps = num_train_timesteps
        # On the CPU always (a schedule, not a network: moved to the frames' device where used), also when the
        # denoiser is built on the meta device to take a checkpoint's tensors (`models.checkpoint.build_loaded`).
        self.betas = torch.linspace(
            beta_start, beta_end, num_train_timesteps, dtype=torch.float32, device="cpu"
        )  # (T,)
        self.alphas_cumprod = torch.cumprod(1 - self.betas, dim=0)  # (T,)

    def alpha_cumprod(self, t: int) -> torch.Tensor:
        """abar_t as a 0-d float32 tensor; 1 for t < 0 (before the first step: no noise)."""
        return self.alphas_cumprod[t] if t >= 0 else torch.ones((), dtype=torch.float32, device="cpu")

    def inference_timesteps(self, num_steps: int) -> list[int]:
        """The `num_steps` timesteps of sampling, decreasing: k * (T // num_steps) for k = num_steps - 1 .. 0."""
        if not 1 <= num_steps <= self.num_train_timesteps:
            raise ValueError(f"num_steps must be in [1, {self.num_train_timesteps}], got {num_steps}")
        stride = self.num_train_timesteps // num_steps
        return [k * stride for k in reversed(range(num_steps))]

    def add_noise(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) noise (eq. 4): x0, noise (B, C, H, W), t (B,) int64."""
        abar = self.alphas_cumprod.to(t.device)[t]  # (B,)
        return bcast(abar**0.5, x0.ndim) * x0 + bcast((1 - abar) ** 0.5, x0.ndim) * noise  # (B, C, H, W)

    def predict_x0(self, x_t: torch.Tensor, eps: torch.Tensor, t: int) -> torch.Tensor:
        """x_0 = (x_t - sqrt(1 - abar_t) eps) / sqrt(abar_t), eq. 4 solved for x_0 (as in eq. 15)."""
        abar = self.alpha_cumprod(t)
        return (x_t - (1 - abar) ** 0.5 * eps) / abar**0.5

    def posterior_step(
        self, x_t: torch.Tensor, eps: torch.Tensor, t: int, t_prev: int, noise: Optional[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x_{t_prev} from q(x_{t_prev} | x_t, x_0) (eqs. 6-7, "fixed small" variance beta_tilde) with x_0 predicted
        from eps and clipped to [-1, 1]; `noise` (standard normal) is added while t > 0 -> (x_prev, x_0).

        For strided timesteps, alpha_t = abar_t / abar_{t_prev} and beta_t = 1 - alpha_t."""
        abar_t, abar_prev = self.alpha_cumprod(t), self.alpha_cumprod(t_prev)
        alpha_t = abar_t / abar_prev
        beta_t = 1 - alpha_t
        x0 = self.predict_x0(x_t, eps, t).clamp(-1, 1)  # (B, C, H, W)
        coef_x0 = abar_prev**0.5 * beta_t / (1 - abar_t)
        coef_xt = alpha_t**0.5 * (1 - abar_prev) / (1 - abar_t)
        x_prev = coef_x0 * x0 + coef_xt * x_t  # posterior mean mu_tilde (eq. 7)
        if t > 0:
            if noise is None:
                raise ValueError(f"the posterior step at t={t} > 0 needs noise")
            variance = ((1 - abar_prev) / (1 - abar_t) * beta_t).clamp(min=1e-20)  # beta_tilde (eq. 7)
            x_prev = x_prev + variance**0.5 * noise
        return x_prev, x0
