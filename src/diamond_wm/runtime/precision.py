"""Numerical precision of the networks at run time: float32, or bf16 autocast (CPU and CUDA).

Used by `diamond bench --precision` and `diamond play --precision`. Training stays in float32. What bf16 costs in
imagined frames is measured by the bench (`psnr_bf16_50_steps*`, docs/benchmarks.md).
"""

from __future__ import annotations

import contextlib

import torch

PRECISIONS = ("fp32", "bf16")
AUTOCAST_DEVICE_TYPES = ("cpu", "cuda")


def check_precision(precision: str, device: torch.device | str | None = None) -> None:
    """Raise ValueError naming `precision` (or the device) when it cannot be used."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "bf16" and device is not None and torch.device(device).type not in AUTOCAST_DEVICE_TYPES:
        raise ValueError(
            f"precision bf16 needs a cpu or cuda device, got {str(device)!r} (use precision fp32 there)"
        )


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast on `device` for precision "bf16"; nothing for "fp32"."""
    check_precision(precision, device)
    if precision == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
