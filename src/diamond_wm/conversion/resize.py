"""Frames resized the way the published CS:GO converter made its low-resolution frames.

The published converter: frames to [-1, 1] floats (`.div(255).mul(2).sub(1)`), resized by torchvision's
`resize(..., BICUBIC)` (bicubic interpolation with antialiasing, its default since torchvision 0.17; the published
code ran torch 2.4), then stored by `Episode.save` as `.add(1).div(2).mul(255).byte()`: truncated toward zero, not
rounded (a flat 200 comes out 199: 199.99998), and not clamped, so bicubic overshoot wraps around modulo 256
(258.5 comes out 2) as float-to-uint8 conversion does on the x86 machines that made the published dataset.

`diamond dataset csgo` reproduces those bytes (`resize_frames_published`). `diamond dataset import` makes the
same floats, then rounds them to the nearest level, clamped (`resize_frames`): its datasets have no published
twin to match, and rounding neither darkens them by half a level nor wraps overshoot to black.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from diamond_wm.data.frames import to_uint8_frames


def resize_float(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (n, 3, H, W) -> float32 (n, 3, h, w), about [-1, 1] (overshoot included): the published floats."""
    # uint8 made contiguous first (a channels-last view otherwise makes the float conversion a slow strided copy)
    x = frames.contiguous().to(torch.float32)  # (n, 3, H, W)
    x = x.div_(255).mul_(2).sub_(1)  # in place, the published loader's .div(255).mul(2).sub(1)
    return F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False, antialias=True)


def published_uint8(frames: torch.Tensor) -> torch.Tensor:
    """float frames in [-1, 1] -> uint8 as the published `Episode.save`: `.add(1).div(2).mul(255)`, truncated
    toward zero and wrapped modulo 256 (what its `.byte()` gave: written out, so that every platform agrees)."""
    levels = frames.float().add(1).div(2).mul(255)
    return levels.trunc().to(torch.int64).remainder(256).to(torch.uint8)


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (n, 3, H, W) -> uint8 (n, 3, h, w): `resize_float`, rounded to the nearest level (clamped). Frames
    already of `size` are returned as they are."""
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    return to_uint8_frames(resize_float(frames, size))


def resize_frames_published(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (n, 3, H, W) -> uint8 (n, 3, h, w), the bytes of the published converter (see the module docstring)."""
    return published_uint8(resize_float(frames, size))


def parse_size(text: str, option: str) -> tuple[int, int]:
    """'30x56' -> (30, 56) (height x width); ValueError naming `option` otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{option} {text}: expected HEIGHTxWIDTH in pixels, e.g. 64x64 or 30x56")
    return int(parts[0]), int(parts[1])
