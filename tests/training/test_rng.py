"""A run's random number generators: captured and restored on CPU, and on CUDA this process's device only."""

from __future__ import annotations

import logging
import random

import numpy as np
import pytest
import torch

from diamond_wm.training.rng import capture_rng_state, cuda_device, own_cuda_state, restore_rng_state

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (its generator)")


def _draws(gen: torch.Generator) -> list[float]:
    return [
        random.random(),
        float(np.random.rand()),
        float(torch.rand(1)),
        float(torch.rand(1, generator=gen)),
    ]


def test_a_restored_state_repeats_every_stream_after_a_save_and_load(tmp_path):
    gen = torch.Generator().manual_seed(3)
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    state = capture_rng_state({"g": gen}, device="cpu")
    assert "cuda" not in state  # a CPU process keeps no CUDA generator
    first = _draws(gen)
    torch.save(state, tmp_path / "state.pt")
    restore_rng_state(torch.load(tmp_path / "state.pt", weights_only=True), {"g": gen}, device="cpu")
    assert _draws(gen) == first


def test_cuda_device_names_the_process_device_and_nothing_for_others():
    assert cuda_device("cpu") is None
    assert cuda_device(torch.device("mps")) is None
    assert cuda_device("cuda:3") == torch.device("cuda", 3)
    assert cuda_device(None) == (
        torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else None
    )


def test_a_saved_list_of_every_gpu_gives_the_entry_of_this_device(caplog):
    states = [torch.full((4,), i, dtype=torch.uint8) for i in range(3)]
    assert own_cuda_state(states[2], 0) is states[2]  # one state: this device's
    assert own_cuda_state(None, 1) is None
    assert own_cuda_state(states, 1) is states[1]
    assert own_cuda_state(states[:1], 2) is states[0]  # a list of one: the only GPU that process saw
    with caplog.at_level(logging.WARNING):
        assert own_cuda_state(states[:2], 2) is None
    assert "cover 2 GPUs, not cuda:2" in caplog.text


@needs_cuda
def test_a_draw_after_restore_repeats_on_this_device_alone():
    device = torch.device("cuda", torch.cuda.device_count() - 1)
    state = capture_rng_state(device=device)
    assert isinstance(state["cuda"], torch.Tensor)
    assert torch.equal(state["cuda"], torch.cuda.get_rng_state(device))
    first = torch.rand(8, device=device)
    if torch.cuda.device_count() > 1:  # another GPU's generator is not this process's to restore
        torch.rand(8, device="cuda:0")
        other = torch.cuda.get_rng_state(0)
    restore_rng_state(state, device=device)
    assert torch.equal(torch.rand(8, device=device), first)
    if torch.cuda.device_count() > 1:
        assert torch.equal(torch.cuda.get_rng_state(0), other)


@needs_cuda
def test_a_state_saved_with_every_gpu_restores_this_device():
    device = torch.device("cuda", torch.cuda.device_count() - 1)
    state = capture_rng_state(device=device)
    state["cuda"] = torch.cuda.get_rng_state_all()  # as earlier versions saved it
    first = torch.rand(8, device=device)
    restore_rng_state(state, device=device)
    assert torch.equal(torch.rand(8, device=device), first)
