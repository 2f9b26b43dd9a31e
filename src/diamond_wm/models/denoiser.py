"""EDM denoiser (Karras et al. 2022) as DIAMOND uses it: preconditioning with offset noise, 8-bit outputs, loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from diamond_wm.config.agent import DenoiserConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.inner_model import InnerModel


@dataclass
class Conditioners:
    """EDM preconditioning coefficients, one value per batch element, each (B,)."""

    c_in: torch.Tensor
    c_out: torch.Tensor
    c_skip: torch.Tensor
    c_noise: torch.Tensor


def _bcast(x: torch.Tensor, ndim: int) -> torch.Tensor:
    """(B,) -> (B, 1, ..., 1) with `ndim` dimensions in all."""
    return x.reshape(x.shape[0], *([1] * (ndim - 1)))


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Clamp to [-1, 1] and quantize to 8 bits (truncation, as a uint8 cast does), mapped back to [-1, 1]."""
    return x.clamp(-1, 1).add(1).div(2).mul(255).byte().div(255).mul(2).sub(1)


def sample_sigma_training(
    n: int,
    cfg: SigmaDistributionConfig,
    device: torch.device | str = "cpu",
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Log-normal training noise levels exp(loc + scale * N(0, 1)), clipped to [sigma_min, sigma_max]: (n,)."""
    s = torch.randn(n, device=device, generator=generator) * cfg.scale + cfg.loc
    return s.exp().clip(cfg.sigma_min, cfg.sigma_max)


class Denoiser(nn.Module):
    """D_theta(x; sigma) = c_skip x + c_out F_theta(c_in x; c_noise), conditioned on past frames and actions."""

    def __init__(self, cfg: DenoiserConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.inner_model = InnerModel(cfg.inner_model)

    @property
    def num_steps_conditioning(self) -> int:
        """Number of past frames (and actions) the denoiser is conditioned on."""
        return self.cfg.inner_model.num_steps_conditioning

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return self.inner_model.noise_emb.weight.device

    def compute_conditioners(self, sigma: torch.Tensor) -> Conditioners:
        """Preconditioning of EDM (Karras et al. 2022, Table 1) with DIAMOND's effective sigma; sigma (B,)."""
        sigma_data = self.cfg.sigma_data
        sigma = (sigma**2 + self.cfg.sigma_offset_noise**2).sqrt()  # effective sigma with offset noise
        c_in = 1 / (sigma**2 + sigma_data**2).sqrt()
        c_skip = sigma_data**2 / (sigma**2 + sigma_data**2)
        c_out = sigma * c_skip.sqrt()  # = sigma * sigma_data / sqrt(sigma^2 + sigma_data^2)
        c_noise = sigma.log() / 4
        return Conditioners(c_in, c_out, c_skip, c_noise)

    def compute_model_output(
        self, noisy_next_obs: torch.Tensor, obs: torch.Tensor, act: torch.Tensor, cs: Conditioners
    ) -> torch.Tensor:
        """F_theta(c_in x; c_noise) with past frames divided by sigma_data: obs (B, n, C, H, W) or (B, n*C, H, W)."""
        if obs.ndim == 5:
            obs = obs.flatten(1, 2)  # (B, n * C, H, W)
        rescaled_obs = obs / self.cfg.sigma_data
        rescaled_noise = noisy_next_obs * _bcast(cs.c_in, noisy_next_obs.ndim)  # (B, C, H, W)
        return self.inner_model(rescaled_noise, cs.c_noise, rescaled_obs, act)  # (B, C, H, W)

    def wrap_model_output(
        self, noisy_next_obs: torch.Tensor, model_output: torch.Tensor, cs: Conditioners
    ) -> torch.Tensor:
        """D = c_skip x + c_out F (EDM eq. 7), then clamped to [-1, 1] and quantized to 8 bits: (B, C, H, W)."""
        nd = noisy_next_obs.ndim
        d = _bcast(cs.c_skip, nd) * noisy_next_obs + _bcast(cs.c_out, nd) * model_output  # (B, C, H, W)
        return quantize(d)

    def _check_inputs(self, noisy_next_obs: torch.Tensor, obs: torch.Tensor, act: torch.Tensor) -> None:
        n = self.num_steps_conditioning
        if noisy_next_obs.ndim != 4:
            raise ValueError(f"noisy_next_obs must be (B, C, H, W), got shape {tuple(noisy_next_obs.shape)}")
        if obs.ndim != 5 or obs.shape[1] != n:
            raise ValueError(f"obs must be (B, {n}, C, H, W), got shape {tuple(obs.shape)}")
        if act.shape != (obs.shape[0], n):
            raise ValueError(f"act must be (B, {n}) = {(obs.shape[0], n)}, got shape {tuple(act.shape)}")

    def denoise(
        self, noisy_next_obs: torch.Tensor, sigma: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """Denoised next frame (clamped, quantized): noisy (B, C, H, W), sigma (B,) or scalar, obs (B, n, C, H, W)."""
        self._check_inputs(noisy_next_obs, obs, act)
        b = noisy_next_obs.shape[0]
        sigma = torch.as_tensor(sigma, dtype=noisy_next_obs.dtype, device=noisy_next_obs.device)
        sigma = sigma.reshape(-1).expand(b) if sigma.numel() == 1 else sigma.reshape(b)  # (B,)
        cs = self.compute_conditioners(sigma)
        model_output = self.compute_model_output(noisy_next_obs, obs, act, cs)
        return self.wrap_model_output(noisy_next_obs, model_output, cs)

    def compute_loss(
        self,
        batch: Batch,
        sigma_distribution: SigmaDistributionConfig,
        num_autoregressive_steps: Optional[int] = None,
        draws: Optional[list[dict[str, torch.Tensor]]] = None,
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Mean over the predicted frames of the MSE against the preconditioned target, masked by padding.

        The batch holds n conditioning frames then 1 + num_autoregressive_steps targets; later targets are
        conditioned on earlier quantized predictions. `draws[i]` may give `sigma` (B,), `offset_noise`
        (B, C, 1, 1, already scaled by sigma_offset_noise) and `eps` (B, C, H, W) for predicted frame i.
        """
        n = self.num_steps_conditioning
        b, t, c, h, w = batch.obs.shape
        seq_length = t - n
        if seq_length < 1:
            raise ValueError(f"the batch has {t} frames: the denoiser needs more than {n} (conditioning)")
        if num_autoregressive_steps is not None and num_autoregressive_steps + 1 != seq_length:
            raise ValueError(
                f"num_autoregressive_steps={num_autoregressive_steps} needs {n + 1 + num_autoregressive_steps} "
                f"frames, the batch has {t}"
            )
        if draws is not None and len(draws) != seq_length:
            raise ValueError(
                f"draws has {len(draws)} entries, expected one per predicted frame ({seq_length})"
            )

        all_obs = batch.obs.clone()  # (B, T, C, H, W); predicted frames replace the targets as we go
        loss = all_obs.new_zeros(())
        for i in range(seq_length):
            obs = all_obs[:, i : n + i]  # (B, n, C, H, W)
            next_obs = all_obs[:, n + i]  # (B, C, H, W)
            act = batch.act[:, i : n + i]  # (B, n)
            mask = batch.mask_padding[:, n + i]  # (B,)
            draw = draws[i] if draws is not None else {}

            sigma = draw.get("sigma")
            if sigma is None:
                sigma = sample_sigma_training(b, sigma_distribution, device=all_obs.device)  # (B,)
            offset_noise = draw.get("offset_noise")
            if offset_noise is None:
                offset_noise = self.cfg.sigma_offset_noise * torch.randn(b, c, 1, 1, device=all_obs.device)
            eps = draw.get("eps")
            if eps is None:
                eps = torch.randn_like(next_obs)

            noisy_next_obs = next_obs + offset_noise + _bcast(sigma, 4) * eps  # (B, C, H, W)
            cs = self.compute_conditioners(sigma)
            model_output = self.compute_model_output(noisy_next_obs, obs, act, cs)  # (B, C, H, W)
            target = (next_obs - _bcast(cs.c_skip, 4) * noisy_next_obs) / _bcast(cs.c_out, 4)  # (B, C, H, W)
            if mask.any():
                loss = loss + F.mse_loss(model_output[mask], target[mask])
            else:
                loss = loss + 0.0 * model_output.sum()  # keep the graph; nothing to learn from padding

            with torch.no_grad():
                all_obs[:, n + i] = self.wrap_model_output(noisy_next_obs, model_output, cs)

        loss = loss / seq_length
        return loss, {"loss_denoising": loss.item()}
