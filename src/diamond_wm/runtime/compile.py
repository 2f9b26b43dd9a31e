"""`torch.compile` of the world model, in place: parameter names and checkpoints are unchanged.

What is compiled is the part that dominates imagination and world-model training: the denoiser's U-Net
(`InnerModel`, called 3 times per imagined step), the reward/termination model, and the CS:GO world model's
upsampler U-Net (its costliest network: 150x280 frames); parts an agent lacks are skipped. The actor-critic is small and
runs one step at a time with a Python-side LSTM loop; compiling it costs more compile time than it saves.

Inductor fuses the GroupNorm / SiLU / scale-and-shift chains between convolutions (on CPU it needs a C++
compiler, on CUDA Triton). `freeze=True` (inference only: play, evaluation, benchmarks of imagination) also lets
Inductor treat the weights as constants and pre-pack them for oneDNN; the weights must not change afterwards.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

log = logging.getLogger(__name__)


def compile_world_model(agent: nn.Module, freeze: bool = False) -> None:
    """Compile `agent.denoiser.inner_model`, `agent.upsampler.inner_model` (CS:GO) and `agent.rew_end_model` in
    place (`nn.Module.compile`), those the agent has."""
    if freeze:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
    upsampler = getattr(agent, "upsampler", None)
    for name, module in (
        ("denoiser.inner_model", agent.denoiser.inner_model),
        ("upsampler.inner_model", upsampler.inner_model if upsampler is not None else None),
        ("rew_end_model", agent.rew_end_model),
    ):
        if module is None:
            continue
        module.compile(dynamic=False)
        log.info("torch.compile: %s (compiled on first call; freezing=%s)", name, freeze)
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 16)


def use_channels_last(agent: nn.Module) -> None:
    """Store the convolution weights of the denoiser's and the upsampler's U-Nets in channels-last order (NHWC),
    in place. oneDNN (CPU) and cuDNN (GPU) then run their convolutions, and propagate their outputs, in NHWC,
    their fastest layout; inputs need no change (a convolution follows its weight's layout). For inference; the
    state_dict is the same tensors, so a checkpoint saved afterwards is unchanged."""
    for part in (getattr(agent, "denoiser", None), getattr(agent, "upsampler", None)):
        if part is not None:
            part.inner_model.to(memory_format=torch.channels_last)


def uncompiled(module: nn.Module) -> Callable[..., Any]:
    """`module`'s own forward, bypassing a `compile_world_model` compilation (a no-op for an eager module).

    For calls whose shapes vary from call to call (the burn-in of however many environments restarted this step),
    which would otherwise compile a new graph for every new batch size."""
    return module.forward
