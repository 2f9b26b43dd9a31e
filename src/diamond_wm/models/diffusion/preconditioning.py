"""Preconditioning of the denoiser's network (NVlabs/edm's `EDMPrecond`): the coefficients of
D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), kept apart from the network and from the training loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch


@dataclass
class Conditioners:
    """Preconditioning coefficients, one value per batch element, each (B,)."""

    c_in: torch.Tensor
    c_out: torch.Tensor
    c_skip: torch.Tensor
    c_noise: torch.Tensor
    # log(sigma_cond) / 4 of noised conditioning frames (CS:GO), or 0.
    c_noise_cond: Optional[torch.Tensor] = None


def bcast(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """A coefficient (B,) -> (B, 1, ..., 1) with `ndim` dimensions in all, to scale (B, C, H, W) tensors."""
    return x.reshape(x.shape[0], *([1] * (ndim - 1)))


@dataclass(frozen=True)
class EDMPreconditioning:
    """EDM's preconditioning (Karras et al. 2022, Table 1) at DIAMOND's effective noise level
    sqrt(sigma^2 + sigma_offset_noise^2): offset noise adds to the noise the network has to remove."""

    sigma_data: float
    sigma_offset_noise: float

    def __call__(self, sigma: torch.Tensor, sigma_cond: Optional[torch.Tensor] = None) -> Conditioners:
        """Coefficients for noise levels sigma (B,) and, of the conditioning frames, sigma_cond (B,) (None: not
        noised, c_noise_cond = 0). sigma_cond enters as it is, without the offset-noise correction."""
        c_noise_cond = sigma_cond.log() / 4 if sigma_cond is not None else torch.zeros_like(sigma)
        sigma_data = self.sigma_data
        sigma = (sigma**2 + self.sigma_offset_noise**2).sqrt()  # effective sigma with offset noise
        c_in = 1 / (sigma**2 + sigma_data**2).sqrt()
        c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        c_out = sigma * c_skip.sqrt()  # = sigma * sigma_data / sqrt(sigma^2 + sigma_data^2)
        c_noise = sigma.log() / 4
        return Conditioners(c_in, c_out, c_skip, c_noise, c_noise_cond)
