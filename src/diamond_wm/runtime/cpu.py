"""What the CPU is and what torch's kernels use of it, for reports (demo, bench) and the precision policy."""

from __future__ import annotations

import platform

import torch

# /proc/cpuinfo flags of bf16 arithmetic in hardware: x86 AVX-512 BF16 and AMX (Sapphire Rapids and later, Zen 4 and
# later), aarch64's BF16 extension (Graviton 3, Neoverse V1/N2...). Without one of them torch's CPU kernels convert
# bf16 to float32 and back around every operation: measured on an AVX2 machine, a 2-thread matmul runs at 1.3
# GFLOP/s in bf16 against 38 in float32.
NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16", "amx_tile", "bf16"})


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what the platform module knows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_capability() -> str:
    """The vector instruction set torch's CPU kernels dispatch to: 'AVX512', 'AVX2', 'DEFAULT', ..."""
    try:
        return str(torch.backends.cpu.get_cpu_capability())
    except AttributeError:  # torch < 2.1
        return "unknown"


def cpu_flags() -> frozenset[str]:
    """The first processor's feature flags in /proc/cpuinfo (x86 `flags`, aarch64 `Features`); empty elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_has_native_bf16() -> bool:
    """Whether the CPU computes in bf16 in hardware (AVX-512 BF16, AMX, aarch64 BF16), so that bf16 autocast is
    faster than float32 rather than emulated. torch's own probes first (x86), then /proc/cpuinfo's flags."""
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        fn = getattr(torch.cpu, probe, None)
        if fn is not None and fn():
            return True
    return bool(NATIVE_BF16_FLAGS & cpu_flags())


def describe_cpu() -> str:
    """One line, e.g. 'AMD EPYC, kernels AVX512, 2 torch threads'."""
    n = torch.get_num_threads()
    return f"{cpu_model()}, kernels {cpu_capability()}, {n} torch thread{'s' if n != 1 else ''}"
