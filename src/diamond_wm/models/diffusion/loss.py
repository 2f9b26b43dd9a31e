"""The denoisers' training losses (EDM's and DDPM's), apart from the networks and their preconditioning
(NVlabs/edm's `EDMLoss`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Optional

import torch
import torch.nn.functional as F

from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.diffusion.preconditioning import bcast
from diamond_wm.models.diffusion.schedules import sample_sigma_training
from diamond_wm.models.diffusion.upsampling import upsampler_conditioning

if TYPE_CHECKING:
    from diamond_wm.models.diffusion.ddpm_denoiser import DDPMDenoiser
    from diamond_wm.models.diffusion.denoiser import Denoiser


def _num_predicted_frames(
    n: int, t: int, num_autoregressive_steps: Optional[int], draws: Optional[list[dict[str, torch.Tensor]]]
) -> int:
    """Predicted frames of a segment of t frames whose first n condition; checks the step count and the draws."""
    seq_length = t - n
    if seq_length < 1:
        raise ValueError(f"the batch has {t} frames: the denoiser needs more than {n} (conditioning)")
    if num_autoregressive_steps is not None and num_autoregressive_steps + 1 != seq_length:
        raise ValueError(
            f"num_autoregressive_steps={num_autoregressive_steps} needs {n + 1 + num_autoregressive_steps} "
            f"frames, the batch has {t}"
        )
    if draws is not None and len(draws) != seq_length:
        raise ValueError(f"draws has {len(draws)} entries, expected one per predicted frame ({seq_length})")
    return seq_length


def edm_denoising_loss(
    denoiser: Denoiser,
    batch: Batch,
    sigma_distribution: SigmaDistributionConfig,
    num_autoregressive_steps: Optional[int] = None,
    draws: Optional[list[dict[str, torch.Tensor]]] = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """EDM's training loss (Karras et al. 2022, eq. 8) over DIAMOND's autoregressive segments: the mean over the
    predicted frames of the MSE between F and the preconditioned target (x - c_skip noisy) / c_out, masked by
    padding.

    The batch holds n conditioning frames then 1 + num_autoregressive_steps targets; later targets are
    conditioned on earlier quantized predictions. `draws[i]` may give `sigma` (B,), `offset_noise`
    (B, C, 1, 1, already scaled by sigma_offset_noise) and `eps` (B, C, H, W) for predicted frame i; with
    `noise_previous_obs` (CS:GO) also `sigma_cond` (B,), `cond_offset_noise` (B, n*C, 1, 1, scaled) and
    `cond_eps` (B, n*C, H, W), the noise of the conditioning frames. An upsampler (`upsampling_factor`) predicts
    `batch.full_res` frames: see `_frames_and_conditioning`.
    """
    frames, conditioning, n = _frames_and_conditioning(denoiser, batch)
    b, t, c, h, w = frames.shape
    seq_length = _num_predicted_frames(n, t, num_autoregressive_steps, draws)
    device = frames.device
    cfg = denoiser.cfg

    loss = frames.new_zeros(())
    for i in range(seq_length):
        obs = conditioning(i)  # (B, frames, C, H, W)
        next_obs = frames[:, n + i]  # (B, C, H, W)
        act = None if denoiser.is_upsampler else batch.act[:, i : n + i]  # (B, n[, D])
        mask = batch.mask_padding[:, n + i]  # (B,)
        draw = draws[i] if draws is not None else {}

        sigma_cond = None
        if cfg.noise_previous_obs:  # the past frames noised too, at their own noise level (drawn first)
            obs = obs.flatten(1, 2)  # (B, n * C, H, W)
            sigma_cond = _draw(
                draw, "sigma_cond", lambda: sample_sigma_training(b, sigma_distribution, device)
            )
            cond_offset = _draw(
                draw,
                "cond_offset_noise",
                lambda obs=obs: cfg.sigma_offset_noise * torch.randn(b, obs.size(1), 1, 1, device=device),
            )
            cond_eps = _draw(draw, "cond_eps", lambda obs=obs: torch.randn_like(obs))
            obs = obs + cond_offset + bcast(sigma_cond, 4) * cond_eps

        sigma = _draw(
            draw, "sigma", lambda: sample_sigma_training(b, sigma_distribution, device=device)
        )  # (B,)
        offset_noise = _draw(
            draw, "offset_noise", lambda: cfg.sigma_offset_noise * torch.randn(b, c, 1, 1, device=device)
        )
        eps = _draw(draw, "eps", lambda x=next_obs: torch.randn_like(x))

        noisy_next_obs = next_obs + offset_noise + bcast(sigma, 4) * eps  # (B, C, H, W)
        cs = denoiser.compute_conditioners(sigma, sigma_cond)
        model_output = denoiser.compute_model_output(noisy_next_obs, obs, act, cs)  # (B, C, H, W)
        target = (next_obs - bcast(cs.c_skip, 4) * noisy_next_obs) / bcast(cs.c_out, 4)  # (B, C, H, W)
        if mask.any():
            loss = loss + F.mse_loss(model_output[mask], target[mask])
        else:
            loss = loss + 0.0 * model_output.sum()  # keep the graph; nothing to learn from padding

        with torch.no_grad():
            frames[:, n + i] = denoiser.wrap_model_output(noisy_next_obs, model_output, cs)

    loss = loss / seq_length
    return loss, {"loss_denoising": loss.item()}


def _draw(draw: dict[str, torch.Tensor], name: str, make: Callable[[], torch.Tensor]) -> torch.Tensor:
    """The given draw `name`, else a fresh one."""
    value = draw.get(name)
    return make() if value is None else value


def _frames_and_conditioning(
    denoiser: Denoiser, batch: Batch
) -> tuple[torch.Tensor, Callable[[int], torch.Tensor], int]:
    """(the frames the loss predicts, a copy in which predictions replace targets; the conditioning frames of
    predicted frame i; the number n of leading frames that only condition).

    A next-frame denoiser predicts `batch.obs` from its n previous frames. An upsampler predicts full-resolution
    frames (`batch.full_res`): frame i + 1 from full-resolution frame i (data, or the previous prediction) and the
    low-resolution frame i + 1 (`batch.obs`) upsampled, without noise."""
    if not denoiser.is_upsampler:
        frames = batch.obs.clone()  # (B, T, C, H, W)
        n = denoiser.num_steps_conditioning
        return frames, lambda i: frames[:, i : n + i], n
    if batch.full_res is None:
        raise ValueError(
            "an upsampler trains on batches with full-resolution frames (batch.full_res is None)"
        )
    if denoiser.num_steps_conditioning != 1:
        raise ValueError(
            f"an upsampler conditions on 1 previous frame, got num_steps_conditioning="
            f"{denoiser.num_steps_conditioning}"
        )
    frames = batch.full_res.clone()  # (B, T, C, H, W)
    factor = int(denoiser.cfg.upsampling_factor)
    return frames, lambda i: upsampler_conditioning(frames[:, i], batch.obs[:, i + 1], factor), 1


def ddpm_denoising_loss(
    denoiser: DDPMDenoiser,
    batch: Batch,
    num_autoregressive_steps: Optional[int] = None,
    draws: Optional[list[dict[str, torch.Tensor]]] = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """DDPM's simplified objective (Ho et al. 2020, eq. 14 and Algorithm 1) with offset noise: t uniform in
    [0, T), noise = offset_noise + eps, x_t = sqrt(abar_t) x + sqrt(1 - abar_t) noise (eq. 4), and the MSE between
    the predicted and the added noise over the rows whose target is not padding, averaged over predicted frames.

    The published DDPM world model trains on n conditioning frames + 1 target; with more frames (autoregressive
    steps), later targets are conditioned on the earlier predicted clean frames, quantized, as in the EDM loss.
    `draws[i]` may give `offset_noise` (B, C, 1, 1, already scaled by sigma_offset_noise), `eps` (B, C, H, W) and
    `timesteps` (B,) int64 for predicted frame i; missing ones are drawn in that order.
    """
    n = denoiser.num_steps_conditioning
    b, t, c, h, w = batch.obs.shape
    seq_length = _num_predicted_frames(n, t, num_autoregressive_steps, draws)
    schedule = denoiser.schedule
    # (B, T, C, H, W); with autoregressive steps, predictions replace the targets as we go
    all_obs = batch.obs.clone() if seq_length > 1 else batch.obs
    loss = all_obs.new_zeros(())
    for i in range(seq_length):
        obs = all_obs[:, i : n + i]  # (B, n, C, H, W)
        next_obs = all_obs[:, n + i]  # (B, C, H, W)
        act = batch.act[:, i : n + i]  # (B, n)
        mask = batch.mask_padding[:, n + i]  # (B,)
        draw = draws[i] if draws is not None else {}

        offset_noise = draw.get("offset_noise")
        if offset_noise is None:
            offset_noise = denoiser.cfg.sigma_offset_noise * torch.randn(b, c, 1, 1, device=all_obs.device)
        eps = draw.get("eps")
        if eps is None:
            eps = torch.randn_like(next_obs)
        timesteps = draw.get("timesteps")
        if timesteps is None:
            timesteps = torch.randint(0, schedule.num_train_timesteps, (b,), device=all_obs.device)

        noise = offset_noise + eps  # (B, C, H, W)
        noisy_next_obs = schedule.add_noise(next_obs, noise, timesteps)  # (B, C, H, W)
        pred_noise = denoiser.predict_noise(noisy_next_obs, timesteps, obs, act)  # (B, C, H, W)
        if mask.any():
            loss = loss + F.mse_loss(pred_noise[mask], noise[mask])
        else:
            loss = loss + 0.0 * pred_noise.sum()  # keep the graph; nothing to learn from padding

        if i + 1 < seq_length:
            with torch.no_grad():
                all_obs[:, n + i] = denoiser.wrap_model_output(noisy_next_obs, pred_noise, timesteps)

    loss = loss / seq_length
    return loss, {"loss_denoising": loss.item()}
