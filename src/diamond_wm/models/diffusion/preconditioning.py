"""Preconditioning of the denoiser's network (NVlabs/edm's `EDMPrecond`): the coefficients of
D(x; sigma) = c_skip x + c_out F(c_in x; c_noise), kept apart from the network and from the training loss."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Conditioners:
    """Preconditioning coefficients, one value per batch element, each (B,)."""

    c_in: torch.Tensor
    c_out: torch.Tensor
    c_skip: torch.Tensor
    c_noise: torch.Tensor


def bcast(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """A coefficient (B,) -> (B, 1, ..., 1) with `ndim` dimensions in all, to scale (B, C, H, W) tensors."""
    return x.reshape(x.shape[0], *([1] * (ndim - 1)))


@dataclass(frozen=True)
class EDMPreconditioning:
    """EDM's preconditioning (Karras et al. 2022, Table 1) at DIAMOND's effective noise level
    sqrt(sigma^2 + sigma_offset_noise^2): offset noise adds to the noise the network has to remove."""

    sigma_data: float
    sigma_offset_noise: float

    def __call__(self, sigma: torch.Tensor) -> Conditioners:
        """Coefficients for noise levels sigma (B,)."""
        sigma_data = self.sigma_data
        sigma = (sigma**2 + self.sigma_offset_noise**2).sqrt()  # effective sigma with offset noise
        c_in = 1 / (sigma**2 + sigma_data**2).sqrt()
        c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        c_out = sigma * c_skip.sqrt()  # = sigma * sigma_data / sqrt(sigma^2 + sigma_data^2)
        c_noise = sigma.log() / 4
        return Conditioners(c_in, c_out, c_skip, c_noise)
