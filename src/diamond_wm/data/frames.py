"""Conversions between stored frames (uint8 in [0, 255]) and model frames (float32 in [-1, 1]).

`to_float_frames(to_uint8_frames(x)) == x` for every frame that came from `to_float_frames`, and
`to_uint8_frames(to_float_frames(u)) == u` for every uint8 frame: the round trip is exact.
"""

from __future__ import annotations

import torch


def to_float_frames(frames: torch.Tensor) -> torch.Tensor:
    """uint8 frames (..., C, H, W) in [0, 255] -> float32 in [-1, 1] (x / 255 * 2 - 1, as the published code)."""
    if frames.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames, got dtype {frames.dtype}")
    return frames.to(torch.float32).div_(255).mul_(2).sub_(1)


def to_uint8_frames(frames: torch.Tensor) -> torch.Tensor:
    """float frames in [-1, 1] -> uint8 in [0, 255], rounded to the nearest level (values outside are clamped)."""
    if not frames.is_floating_point():
        raise ValueError(f"expected floating-point frames in [-1, 1], got dtype {frames.dtype}")
    return frames.float().add(1).div_(2).mul_(255).round_().clamp_(0, 255).to(torch.uint8)
