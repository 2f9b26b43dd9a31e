"""Conditioned U-Net of the denoiser: ResBlocks per level, skip concatenation, two attention blocks in the middle."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from diamond_wm.models.blocks import Downsample, ResBlocks, Upsample


class UNet(nn.Module):
    """U-Net whose up path concatenates every output of the down path (including each level's input)."""

    def __init__(
        self, cond_channels: int, depths: list[int], channels: list[int], attn_depths: list[int]
    ) -> None:
        super().__init__()
        if not len(depths) == len(channels) == len(attn_depths):
            raise ValueError(
                f"UNet: depths {depths}, channels {channels} and attn_depths {attn_depths} differ in length"
            )
        d_blocks, u_blocks = [], []
        for i, n in enumerate(depths):
            c1 = channels[max(0, i - 1)]  # channels entering level i
            c2 = channels[i]
            d_blocks.append(ResBlocks([c1] + [c2] * (n - 1), [c2] * n, cond_channels, bool(attn_depths[i])))
            # Up level i consumes the n block outputs (c2 each) then the level's input (c1).
            u_blocks.append(
                ResBlocks([2 * c2] * n + [c1 + c2], [c2] * n + [c1], cond_channels, bool(attn_depths[i]))
            )
        self.d_blocks = nn.ModuleList(d_blocks)
        self.u_blocks = nn.ModuleList(reversed(u_blocks))
        self.mid_blocks = ResBlocks([channels[-1]] * 2, [channels[-1]] * 2, cond_channels, attn=True)
        self.downsamples = nn.ModuleList([nn.Identity()] + [Downsample(c) for c in channels[:-1]])
        self.upsamples = nn.ModuleList([nn.Identity()] + [Upsample(c) for c in reversed(channels[:-1])])

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        *_, h, w = x.shape
        m = 2 ** (len(self.downsamples) - 1)
        pad_h, pad_w = math.ceil(h / m) * m - h, math.ceil(w / m) * m - w
        x = F.pad(x, (0, pad_w, 0, pad_h))  # (N, C, H', W'), multiples of 2^levels

        d_outputs = []
        for block, down in zip(self.d_blocks, self.downsamples, strict=True):
            x_down = down(x)
            x, block_outputs = block(x_down, cond)
            d_outputs.append([x_down, *block_outputs])

        x, _ = self.mid_blocks(x, cond)

        for block, up, skip in zip(self.u_blocks, self.upsamples, reversed(d_outputs), strict=True):
            x = up(x)
            x, _ = block(x, cond, skip[::-1])

        return x[..., :h, :w]  # (N, C, H, W)
