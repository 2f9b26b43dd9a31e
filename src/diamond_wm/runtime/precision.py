"""Numerical precision of the networks at run time: float32, or bf16 autocast (CPU and CUDA).

Used by `diamond bench --precision`, `diamond play --precision` and `training.precision`; `training.tf32` (and
`diamond bench --tf32`) lets float32 matmuls on CUDA use TF32 (`set_tf32`). What bf16 costs in
imagined frames is measured by the bench (`psnr_bf16_50_steps*`, `psnr_csgo*`, docs/benchmarks.md).

The default precision of a device follows what its hardware computes natively (`default_precision`): bf16 where
bf16 arithmetic is in hardware (CUDA compute capability 8.0 and later, ROCm; CPUs with AVX-512 BF16, AMX or
aarch64 BF16), float32 elsewhere. Elsewhere torch emulates bf16 by converting around every operation, 30-80x
slower than float32 on an AVX2 CPU: `warn_if_emulated` says so in one log line when a user forces it.
"""

from __future__ import annotations

import contextlib
import logging

import torch

from diamond_wm.runtime import cpu

log = logging.getLogger(__name__)

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


def bf16_is_native(device: torch.device | str) -> bool:
    """Whether `device` computes in bf16 in hardware (rather than converting to float32 around each operation)."""
    device = torch.device(device)
    if device.type == "cpu":
        return cpu.cpu_has_native_bf16()
    if device.type == "cuda":
        if not torch.cuda.is_available():
            return False
        if torch.version.hip:  # every ROCm architecture torch supports has bf16
            return True
        index = device.index if device.index is not None else torch.cuda.current_device()
        return torch.cuda.get_device_properties(index).major >= 8  # Ampere and later: bf16 tensor cores
    return False  # MPS and others: no bf16 autocast here (check_precision)


def default_precision(device: torch.device | str) -> str:
    """The precision to run the networks in on `device` when the user does not choose: "bf16" where bf16 is native
    (it is faster there, and its imagined frames stay within 35 dB of float32's: docs/benchmarks.md), else "fp32"."""
    device = torch.device(device)
    if device.type in AUTOCAST_DEVICE_TYPES and bf16_is_native(device):
        return "bf16"
    return "fp32"


def warn_if_emulated(precision: str, device: torch.device | str) -> bool:
    """Log one warning line, and return True, when `precision` is bf16 on a device that only emulates it."""
    device = torch.device(device)
    if precision != "bf16" or device.type not in AUTOCAST_DEVICE_TYPES or bf16_is_native(device):
        return False
    if device.type == "cpu":
        where = (
            f"this CPU ({cpu.cpu_model()}, kernels {cpu.cpu_capability()}) has no native bf16 (no AVX-512 BF16, "
            "AMX or aarch64 BF16)"
        )
    else:
        where = f"{device} has no bf16 tensor cores (compute capability below 8.0)"
    log.warning(
        "precision bf16 is emulated: %s; expect it to be much slower than fp32 (30-80x on AVX2 CPUs), "
        "use precision fp32",
        where,
    )
    return True


def _has_fp32_precision() -> bool:
    """Whether torch sets TF32 through `fp32_precision` (2.9 and later), whose flags may not be mixed with the
    legacy `allow_tf32` ones."""
    try:
        torch.backends.cuda.matmul.fp32_precision  # noqa: B018  (an attribute whose lookup is the question)
    except AttributeError:
        return False
    return hasattr(torch.backends.cudnn, "conv")


def set_tf32(enabled: bool) -> None:
    """Let float32 matmuls on CUDA use TF32 tensor cores (`enabled`), or restore PyTorch's defaults, which the
    published code keeps: matmuls in full float32, cuDNN convolutions allowed TF32 (both ways: it is the default)."""
    if _has_fp32_precision():
        torch.backends.cuda.matmul.fp32_precision = "tf32" if enabled else "none"  # none: float32 (default)
        torch.backends.cudnn.conv.fp32_precision = "tf32"
    else:
        torch.backends.cuda.matmul.allow_tf32 = enabled
        torch.backends.cudnn.allow_tf32 = True


def tf32_matmul() -> bool:
    """Whether float32 matmuls on CUDA may use TF32 (read through the API `set_tf32` writes with)."""
    if _has_fp32_precision():
        return torch.backends.cuda.matmul.fp32_precision == "tf32"
    return bool(torch.backends.cuda.matmul.allow_tf32)


def apply_tf32(enabled: bool, device: torch.device | str) -> None:
    """`training.tf32` for a run on `device`: set (`set_tf32`) on CUDA; elsewhere TF32 does not exist, and
    `enabled` is one log line, not an error."""
    device = torch.device(device)
    if device.type == "cuda":
        set_tf32(enabled)
        if enabled:
            log.info("training.tf32: float32 matmuls and convolutions may use TF32 on %s", device)
    elif enabled:
        log.info(
            "training.tf32=true has no effect on %s: TF32 is a CUDA GPU's (the run computes in float32)",
            device,
        )
