"""The CPU description printed by the demo and recorded by the bench."""

from __future__ import annotations

from pathlib import Path

import torch

from diamond_wm.runtime.cpu import cpu_capability, describe_cpu


def test_capability_is_what_torch_dispatches_to():
    assert cpu_capability() == torch.backends.cpu.get_cpu_capability()
    line = describe_cpu()
    assert f"kernels {cpu_capability()}" in line and f"{torch.get_num_threads()} torch thread" in line


def test_one_thread_is_singular():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert describe_cpu().endswith(", 1 torch thread")
    finally:
        torch.set_num_threads(before)


def test_flags_are_the_first_processors():
    from diamond_wm.runtime.cpu import cpu_flags

    flags = cpu_flags()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        assert flags == frozenset()
        return
    line = next((ln for ln in text.splitlines() if ln.split(":")[0].strip() in ("flags", "Features")), None)
    assert flags == (frozenset(line.split(":", 1)[1].split()) if line else frozenset())
