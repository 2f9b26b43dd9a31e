"""The network F_theta inside the EDM denoiser: conditioning embeddings, input/output convolutions and the U-Net."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from diamond_wm.config.agent import InnerModelConfig
from diamond_wm.models.action_embedding import ActionEmbedding
from diamond_wm.models.blocks import Conv3x3, FourierFeatures, GroupNorm, to_channels_last
from diamond_wm.models.unet import UNet


class InnerModel(nn.Module):
    """U-Net conditioned on the noise level and past actions, fed past frames concatenated with the noisy frame.

    The CS:GO networks add a second Fourier embedding, of the conditioning frames' noise level (`noise_cond`); an
    upsampler (`is_upsampler`) has no action embedding and takes one more conditioning frame (the low-resolution
    frame upsampled to full resolution).
    """

    def __init__(self, cfg: InnerModelConfig, noise_cond: bool = False, is_upsampler: bool = False) -> None:
        super().__init__()
        if not is_upsampler and (cfg.num_actions is None or cfg.num_actions < 1):
            raise ValueError(f"InnerModel needs num_actions >= 1, got {cfg.num_actions!r}")
        if cfg.cond_channels % cfg.num_steps_conditioning:
            raise ValueError(
                f"cond_channels={cfg.cond_channels} is not a multiple of "
                f"num_steps_conditioning={cfg.num_steps_conditioning}"
            )
        self.cfg = cfg
        self.noise_emb = FourierFeatures(cfg.cond_channels)
        self.noise_cond_emb = FourierFeatures(cfg.cond_channels) if noise_cond else None
        # One embedding per conditioning step, flattened: (N, n) indices or (N, n, D) multi-hot vectors
        # -> (N, n * cond_channels / n).
        self.act_emb = (
            None
            if is_upsampler
            else nn.Sequential(
                ActionEmbedding(cfg.num_actions, cfg.cond_channels // cfg.num_steps_conditioning),
                nn.Flatten(),
            )
        )
        self.cond_proj = nn.Sequential(
            nn.Linear(cfg.cond_channels, cfg.cond_channels),
            nn.SiLU(),
            nn.Linear(cfg.cond_channels, cfg.cond_channels),
        )
        # The conditioning frames, then the noisy one.
        num_frames_in = cfg.num_steps_conditioning + int(is_upsampler) + 1
        self.conv_in = Conv3x3(num_frames_in * cfg.img_channels, cfg.channels[0])
        self.unet = UNet(cfg.cond_channels, cfg.depths, cfg.channels, cfg.attn_depths)
        self.norm_out = GroupNorm(cfg.channels[0])
        self.conv_out = Conv3x3(cfg.channels[0], cfg.img_channels)
        nn.init.zeros_(self.conv_out.weight)

    def forward(
        self,
        noisy_next_obs: torch.Tensor,
        c_noise: torch.Tensor,
        obs: torch.Tensor,
        act: Optional[torch.Tensor],
        c_noise_cond: Optional[torch.Tensor] = None,
    ) -> torch.Tensor:
        """noisy_next_obs (N, C, H, W), c_noise (N,), obs (N, n * C, H, W), act (N, n) int64 or (N, n, D) float
        (None for an upsampler), c_noise_cond (N,) (None: 0, unnoised conditioning) -> (N, C, H, W)."""
        emb = self.noise_emb(c_noise)  # (N, cond_channels)
        if self.noise_cond_emb is not None:
            if c_noise_cond is None:
                c_noise_cond = torch.zeros_like(c_noise)
            # cos(0) = 1: unnoised conditioning still embeds to a non-zero vector.
            emb = emb + self.noise_cond_emb(c_noise_cond)
        if self.act_emb is not None:
            emb = emb + self.act_emb(act)
        cond = self.cond_proj(emb)  # (N, cond_channels)
        x = self.conv_in(to_channels_last(torch.cat((obs, noisy_next_obs), dim=1)))  # (N, channels[0], H, W)
        x = self.unet(x, cond)  # (N, channels[0], H, W)
        return self.conv_out(F.silu(self.norm_out(x)))  # (N, C, H, W)
