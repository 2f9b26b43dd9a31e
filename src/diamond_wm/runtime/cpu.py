"""What the CPU is and what torch's kernels use of it, for reports (demo, bench)."""

from __future__ import annotations

import platform

import torch


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


def describe_cpu() -> str:
    """One line, e.g. 'AMD EPYC, kernels AVX512, 2 torch threads'."""
    n = torch.get_num_threads()
    return f"{cpu_model()}, kernels {cpu_capability()}, {n} torch thread{'s' if n != 1 else ''}"
