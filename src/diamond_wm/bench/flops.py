"""FLOP counts of a workload (torch.utils.flop_counter) and the machine's measured matmul peak."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.flop_counter import FlopCounterMode

from diamond_wm.bench.timing import synchronize, time_calls


def count_flops(fn: Callable[[], object]) -> int:
    """Floating-point operations of one call of `fn` (matmuls and convolutions, forward and backward)."""
    counter = FlopCounterMode(display=False)
    with counter:
        fn()
    return int(counter.get_total_flops())


def matmul_peak_flops(
    device: torch.device, dtype: torch.dtype, size: int = 2048, warmup: int = 2, repeats: int = 5
) -> float:
    """Achieved FLOP/s of `size` x `size` matmuls in `dtype` on `device`: the best of `repeats` calls."""
    gen = torch.Generator(device="cpu").manual_seed(0)
    a = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    b = torch.randn(size, size, generator=gen).to(device=device, dtype=dtype)
    out = torch.empty(size, size, device=device, dtype=dtype)
    inner = (
        4 if device.type == "cuda" else 1
    )  # several products per timed call where one is too short to time

    def run() -> None:
        for _ in range(inner):
            torch.mm(a, b, out=out)

    timing = time_calls(run, device, warmup, repeats)
    synchronize(device)
    return 2 * size**3 * inner / timing.min
