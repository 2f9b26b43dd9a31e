"""The CPU description printed by the demo and recorded by the bench."""

from __future__ import annotations

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
