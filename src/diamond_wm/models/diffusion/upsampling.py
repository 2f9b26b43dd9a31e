"""The conditioning of a diffusion upsampler (the CS:GO world model's second stage): the previous full-resolution
frame and the new low-resolution frame brought to full resolution by bicubic interpolation."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def upsample_bicubic(low_res: torch.Tensor, factor: int) -> torch.Tensor:
    """(B, C, h, w) -> (B, C, h * factor, w * factor): PyTorch's bicubic (align_corners false, a = -0.75), not
    clamped, as the published upsampler's input."""
    if low_res.ndim != 4:
        raise ValueError(f"low-resolution frames must be (B, C, h, w), got shape {tuple(low_res.shape)}")
    try:
        return F.interpolate(low_res, scale_factor=factor, mode="bicubic", align_corners=False)
    except NotImplementedError:
        if low_res.device.type != "mps":
            raise
    # Apple's MPS lacks bicubic interpolation in several PyTorch releases (`aten::upsample_bicubic2d.out`): these
    # few pixels are interpolated on the CPU instead, so that no PYTORCH_ENABLE_MPS_FALLBACK is needed.
    up = F.interpolate(low_res.cpu(), scale_factor=factor, mode="bicubic", align_corners=False)
    return up.to(low_res.device)


def upsampler_conditioning(prev_full_res: torch.Tensor, low_res: torch.Tensor, factor: int) -> torch.Tensor:
    """The upsampler's conditioning frames (B, 2, C, H, W): the previous full-resolution frame (B, C, H, W), then
    the new low-resolution frame (B, C, h, w) upsampled by `factor` to (H, W)."""
    up = upsample_bicubic(low_res, factor)
    if up.shape != prev_full_res.shape:
        raise ValueError(
            f"low-resolution frames {tuple(low_res.shape)} upsampled x{factor} give {tuple(up.shape)}, but the "
            f"full-resolution frames are {tuple(prev_full_res.shape)}"
        )
    return torch.stack((prev_full_res, up), dim=1)
