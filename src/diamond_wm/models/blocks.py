"""Building blocks shared by the denoiser's U-Net and the reward/termination encoder.

Convolutions, (adaptive) group normalisation, self-attention, residual blocks, resampling and the Fourier
features of the noise level. Attribute names follow the published checkpoints' state_dict keys.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

GROUP_SIZE = 32  # channels per group of GroupNorm
GN_EPS = 1e-5
ATTN_HEAD_DIM = 8


def to_channels_last(x: torch.Tensor) -> torch.Tensor:
    """`x` (N, C, H, W) in channels-last memory layout on CPU and CUDA, where oneDNN / cuDNN convolutions, GroupNorm
    and SiLU run markedly faster in it (the values are unchanged; other devices get `x` as it is)."""
    if x.device.type in ("cpu", "cuda"):
        return x.contiguous(memory_format=torch.channels_last)
    return x


def num_groups(channels: int) -> int:
    """Number of GroupNorm groups for `channels`: one group per 32 channels, at least one."""
    return max(1, channels // GROUP_SIZE)


class Conv3x3(nn.Conv2d):
    """3x3 convolution, stride 1, padding 1 (size preserving)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=3, stride=1, padding=1)


class Conv1x1(nn.Conv2d):
    """1x1 convolution (channel projection)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, kernel_size=1, stride=1, padding=0)


class GroupNorm(nn.Module):
    """GroupNorm with groups of 32 channels (at least one group), eps 1e-5, affine."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(num_groups(channels), channels, eps=GN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)  # (N, C, H, W)


class AdaGroupNorm(nn.Module):
    """Adaptive GroupNorm: a linear map of the conditioning vector gives (scale, shift), x * (1 + scale) + shift."""

    def __init__(self, channels: int, cond_channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.num_groups = num_groups(channels)
        self.linear = nn.Linear(cond_channels, 2 * channels)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if x.size(1) != self.channels:
            raise ValueError(
                f"AdaGroupNorm expects {self.channels} channels, got input of shape {tuple(x.shape)}"
            )
        x = F.group_norm(x, self.num_groups, eps=GN_EPS)  # (N, C, H, W), no affine parameters
        scale, shift = self.linear(cond)[:, :, None, None].chunk(2, dim=1)  # 2 x (N, C, 1, 1)
        return torch.addcmul(shift, x, 1 + scale)  # x * (1 + scale) + shift in one pass


class SelfAttention2d(nn.Module):
    """Multi-head self-attention over the pixels (head dim 8), zero-initialised output projection.

    The residual connection starts from the *normalised* input (norm(x) + out_proj(attn)), as the published
    weights require: at initialisation the block therefore acts as a GroupNorm, not as the identity.
    """

    def __init__(self, channels: int, head_dim: int = ATTN_HEAD_DIM) -> None:
        super().__init__()
        self.n_head = max(1, channels // head_dim)
        if channels % self.n_head:
            raise ValueError(f"SelfAttention2d: channels={channels} is not divisible by {self.n_head} heads")
        self.norm = GroupNorm(channels)
        self.qkv_proj = Conv1x1(channels, 3 * channels)
        self.out_proj = Conv1x1(channels, channels)
        nn.init.zeros_(self.out_proj.weight)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        x = self.norm(x)  # (N, C, H, W)
        qkv = self.qkv_proj(x)  # (N, 3C, H, W)
        qkv = qkv.view(n, 3 * self.n_head, c // self.n_head, h * w).transpose(2, 3)  # (N, 3 heads, HW, d)
        q, k, v = qkv.chunk(3, dim=1)  # 3 x (N, heads, HW, d)
        attn = (q @ k.transpose(-2, -1)) / math.sqrt(k.size(-1))  # (N, heads, HW, HW)
        y = attn.softmax(dim=-1) @ v  # (N, heads, HW, d)
        y = y.transpose(2, 3).reshape(n, c, h, w)  # (N, C, H, W)
        return x + self.out_proj(y)


class ResBlock(nn.Module):
    """Two conditioned norm-SiLU-conv stages, 1x1 projection of the skip when channels change, optional attention."""

    def __init__(self, in_channels: int, out_channels: int, cond_channels: int, attn: bool) -> None:
        super().__init__()
        self.proj = Conv1x1(in_channels, out_channels) if in_channels != out_channels else nn.Identity()
        self.norm1 = AdaGroupNorm(in_channels, cond_channels)
        self.conv1 = Conv3x3(in_channels, out_channels)
        self.norm2 = AdaGroupNorm(out_channels, cond_channels)
        self.conv2 = Conv3x3(out_channels, out_channels)
        self.attn = SelfAttention2d(out_channels) if attn else nn.Identity()
        nn.init.zeros_(self.conv2.weight)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        r = self.proj(x)  # (N, C_out, H, W)
        x = self.conv1(F.silu(self.norm1(x, cond)))  # (N, C_out, H, W)
        x = self.conv2(F.silu(self.norm2(x, cond)))  # (N, C_out, H, W)
        return self.attn(x + r)


class ResBlocks(nn.Module):
    """A sequence of ResBlocks; with `to_cat`, each block first concatenates one skip tensor channel-wise."""

    def __init__(
        self, list_in_channels: list[int], list_out_channels: list[int], cond_channels: int, attn: bool
    ) -> None:
        super().__init__()
        if len(list_in_channels) != len(list_out_channels):
            raise ValueError(f"ResBlocks: {list_in_channels} and {list_out_channels} differ in length")
        self.resblocks = nn.ModuleList(
            ResBlock(c_in, c_out, cond_channels, attn)
            for c_in, c_out in zip(list_in_channels, list_out_channels, strict=True)
        )

    def forward(
        self, x: torch.Tensor, cond: torch.Tensor, to_cat: Optional[list[torch.Tensor]] = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outputs = []
        for i, resblock in enumerate(self.resblocks):
            if to_cat is not None:
                x = torch.cat((x, to_cat[i]), dim=1)  # (N, C + C_skip, H, W)
            x = resblock(x, cond)
            outputs.append(x)
        return x, outputs


class Downsample(nn.Module):
    """Strided 3x3 convolution halving the resolution (orthogonal init)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, stride=2, padding=1)
        nn.init.orthogonal_(self.conv.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)  # (N, C, H / 2, W / 2)


class Upsample(nn.Module):
    """Nearest-neighbour x2 upsampling followed by a 3x3 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = Conv3x3(channels, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2.0, mode="nearest")  # (N, C, 2H, 2W)
        return self.conv(x)


class FourierFeatures(nn.Module):
    """Random Fourier features of a scalar (the noise level): [cos(2 pi x w), sin(2 pi x w)], w ~ N(0, 1) fixed."""

    def __init__(self, cond_channels: int) -> None:
        super().__init__()
        if cond_channels % 2:
            raise ValueError(f"FourierFeatures needs an even number of channels, got {cond_channels}")
        self.register_buffer("weight", torch.randn(1, cond_channels // 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 1:
            raise ValueError(f"FourierFeatures expects a (N,) tensor, got shape {tuple(x.shape)}")
        f = 2 * math.pi * x.unsqueeze(1) @ self.weight  # (N, cond_channels / 2)
        return torch.cat((f.cos(), f.sin()), dim=-1)  # (N, cond_channels)
