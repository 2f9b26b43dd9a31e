"""Frames resized the way the published CS:GO converter made its low-resolution frames."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from diamond_wm.data.frames import to_uint8_frames


def resize_frames(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """uint8 (n, 3, H, W) -> uint8 (n, 3, h, w) as the published converter: frames to [-1, 1] floats, resized by
    torchvision's `resize(..., BICUBIC)`, i.e. bicubic interpolation with antialiasing (its default since
    torchvision 0.17; the published code ran torch 2.4), then back to uint8. Frames already of `size` are
    returned as they are.

    Back to uint8 by `to_uint8_frames` (clamped, rounded to the nearest level), where the published `Episode.save`
    truncated without clamping (`.add(1).div(2).mul(255).byte()`): that darkened every pixel by half a level on
    average, turned flat regions of level 200 into 199 (199.99998 truncated), and wrapped bicubic overshoot
    around (255.4 became 0). The float frames before that step are the published ones."""
    if tuple(frames.shape[-2:]) == tuple(size):
        return frames
    # uint8 made contiguous first (a channels-last view otherwise makes the float conversion a slow strided copy)
    x = frames.contiguous().to(torch.float32)  # (n, 3, H, W)
    x = x.div_(255).mul_(2).sub_(1)  # in place, the published loader's .div(255).mul(2).sub(1)
    y = F.interpolate(x, size=tuple(size), mode="bicubic", align_corners=False, antialias=True)
    return to_uint8_frames(y)  # (n, 3, h, w)


def parse_size(text: str, option: str) -> tuple[int, int]:
    """'30x56' -> (30, 56) (height x width); ValueError naming `option` otherwise."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() and int(p) > 0 for p in parts):
        raise ValueError(f"{option} {text}: expected HEIGHTxWIDTH in pixels, e.g. 64x64 or 30x56")
    return int(parts[0]), int(parts[1])
