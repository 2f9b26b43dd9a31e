"""The network F_theta inside the EDM denoiser: conditioning embeddings, input/output convolutions and the U-Net."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from diamond_wm.config.agent import InnerModelConfig
from diamond_wm.models.action_embedding import ActionEmbedding
from diamond_wm.models.blocks import Conv3x3, FourierFeatures, GroupNorm, to_channels_last
from diamond_wm.models.unet import UNet


class InnerModel(nn.Module):
    """U-Net conditioned on the noise level and past actions, fed past frames concatenated with the noisy frame."""

    def __init__(self, cfg: InnerModelConfig) -> None:
        super().__init__()
        if cfg.num_actions is None or cfg.num_actions < 1:
            raise ValueError(f"InnerModel needs num_actions >= 1, got {cfg.num_actions!r}")
        if cfg.cond_channels % cfg.num_steps_conditioning:
            raise ValueError(
                f"cond_channels={cfg.cond_channels} is not a multiple of "
                f"num_steps_conditioning={cfg.num_steps_conditioning}"
            )
        self.cfg = cfg
        self.noise_emb = FourierFeatures(cfg.cond_channels)
        # One embedding per conditioning step, flattened: (N, n) indices or (N, n, D) multi-hot vectors
        # -> (N, n * cond_channels / n).
        self.act_emb = nn.Sequential(
            ActionEmbedding(cfg.num_actions, cfg.cond_channels // cfg.num_steps_conditioning),
            nn.Flatten(),
        )
        self.cond_proj = nn.Sequential(
            nn.Linear(cfg.cond_channels, cfg.cond_channels),
            nn.SiLU(),
            nn.Linear(cfg.cond_channels, cfg.cond_channels),
        )
        self.conv_in = Conv3x3((cfg.num_steps_conditioning + 1) * cfg.img_channels, cfg.channels[0])
        self.unet = UNet(cfg.cond_channels, cfg.depths, cfg.channels, cfg.attn_depths)
        self.norm_out = GroupNorm(cfg.channels[0])
        self.conv_out = Conv3x3(cfg.channels[0], cfg.img_channels)
        nn.init.zeros_(self.conv_out.weight)

    def forward(
        self, noisy_next_obs: torch.Tensor, c_noise: torch.Tensor, obs: torch.Tensor, act: torch.Tensor
    ) -> torch.Tensor:
        """noisy_next_obs (N, C, H, W), c_noise (N,), obs (N, n * C, H, W), act (N, n) int64 or (N, n, D) float
        -> (N, C, H, W)."""
        cond = self.cond_proj(self.noise_emb(c_noise) + self.act_emb(act))  # (N, cond_channels)
        x = self.conv_in(to_channels_last(torch.cat((obs, noisy_next_obs), dim=1)))  # (N, channels[0], H, W)
        x = self.unet(x, cond)  # (N, channels[0], H, W)
        return self.conv_out(F.silu(self.norm_out(x)))  # (N, C, H, W)
