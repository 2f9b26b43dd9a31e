"""`torch.compile` of an agent's networks, in place: parameter names and checkpoints are unchanged.

`compile_world_model` (play, serve, benchmarks) compiles the part that dominates imagination: the denoiser's U-Net
(`InnerModel`, called 3 times per imagined step), the reward/termination model, and the CS:GO world model's
upsampler U-Net (its costliest network: 150x280 frames); parts an agent lacks are skipped. `compile_for_training`
(`training.compile`) adds the actor-critic, whose forward pass every actor-critic update runs once per imagined step.

Every compilation is static (`dynamic=False`): one graph per batch shape, grad mode and autocast state. Callers keep
the shapes fixed (the world model's restarts burn in uncompiled, see `uncompiled`; a training run pads its partial
batches, compiles its test losses in its first epoch and runs its policy's burn-ins over every environment, see
`is_compiled`), so that a training run compiles its graphs in its first epoch and none after. `compiled_graphs`,
`graph_breaks` and `compile_seconds` read torch's counters.

Inductor fuses the GroupNorm / SiLU / scale-and-shift chains between convolutions (on CPU it needs a C++
compiler, on CUDA Triton). `freeze=True` (inference only: play, evaluation, benchmarks of imagination) also lets
Inductor treat the weights as constants and pre-pack them for oneDNN; the weights must not change afterwards.

`cuda_graphs=True` (CUDA only; `training.cuda_graphs`, `diamond bench --cuda-graphs`) compiles in Inductor's
"reduce-overhead" mode: each graph is captured once as a CUDA graph (CUDA graph trees) and replayed with one launch,
which removes the host's per-kernel launch cost that dominates small batches. A new call may overwrite the last
call's outputs, so only the U-Nets are captured (the denoiser's and the upsampler's: each output is used before the
next call); the reward/termination model and the actor-critic, whose LSTM states are carried from one call to the
next, are compiled in the default mode.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Optional

import torch
from torch import nn

log = logging.getLogger(__name__)

BACKEND = "inductor"  # torch.compile's backend (tests that only count compilations use a cheaper one)


def compile_world_model(agent: nn.Module, freeze: bool = False, cuda_graphs: bool = False) -> None:
    """Compile `agent.denoiser.inner_model`, `agent.upsampler.inner_model` (CS:GO) and `agent.rew_end_model` in
    place (`nn.Module.compile`), those the agent has; `cuda_graphs`: captured as CUDA graphs (the agent on CUDA)."""
    if freeze:
        import torch._inductor.config as inductor_config

        inductor_config.freezing = True
    parts = _world_model_parts(agent)
    _compile_parts(parts, f"freezing={freeze}", _mode(agent, cuda_graphs))


def compile_for_training(agent: nn.Module, cuda_graphs: bool = False) -> None:
    """Compile the world model's networks (`compile_world_model`, without freezing) and the actor-critic in place,
    those the agent has. Dynamo traces the reward/termination model's `nn.LSTM` too (`allow_rnn`; else the model's
    graph stops before its LSTM and the rest runs eagerly)."""
    torch._dynamo.config.allow_rnn = True
    parts = [*_world_model_parts(agent), ("actor_critic", getattr(agent, "actor_critic", None))]
    _compile_parts(parts, "training", _mode(agent, cuda_graphs))


def check_cuda_graphs(device: torch.device | str) -> None:
    """Raise ValueError naming `device` when CUDA graphs cannot be used on it (they are CUDA's)."""
    if torch.device(device).type != "cuda":
        raise ValueError(f"CUDA graphs need a cuda device, got {str(device)!r} (leave them off there)")


def _mode(agent: nn.Module, cuda_graphs: bool) -> Optional[str]:
    """torch.compile's mode: "reduce-overhead" (CUDA graphs) for `cuda_graphs`, else the default."""
    if not cuda_graphs:
        return None
    param = next(agent.parameters(), None)
    check_cuda_graphs(param.device if param is not None else "cpu")
    return "reduce-overhead"


def _world_model_parts(agent: nn.Module) -> list[tuple[str, Any]]:
    denoiser, upsampler = getattr(agent, "denoiser", None), getattr(agent, "upsampler", None)
    return [
        ("denoiser.inner_model", denoiser.inner_model if denoiser is not None else None),
        ("upsampler.inner_model", upsampler.inner_model if upsampler is not None else None),
        ("rew_end_model", getattr(agent, "rew_end_model", None)),
    ]


def _compile_parts(parts: list[tuple[str, Any]], what: str, mode: Optional[str] = None) -> None:
    for name, module in parts:
        if module is None:
            continue
        graphs = mode is not None and name.endswith(
            "inner_model"
        )  # CUDA graphs for the stateless U-Nets only
        if graphs:
            module.compile(dynamic=False, backend=BACKEND, mode=mode)
        else:
            module.compile(dynamic=False, backend=BACKEND)
        log.info(
            "torch.compile: %s (compiled on first call; %s%s)", name, what, ", CUDA graphs" if graphs else ""
        )
    # One graph per shape, grad mode and autocast state of each network's forward (shared by networks of one class).
    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 32)


def is_compiled(module: Optional[nn.Module]) -> bool:
    """Whether `module` was compiled in place (`nn.Module.compile`)."""
    return module is not None and getattr(module, "_compiled_call_impl", None) is not None


def compiled_graphs() -> int:
    """Graphs Dynamo has compiled in this process so far (all modules and functions together)."""
    from torch._dynamo.utils import counters

    return int(counters["stats"]["unique_graphs"])


def graph_breaks() -> int:
    """Graph breaks Dynamo has met since it was last reset (`torch._dynamo.reset()`): places where a compiled
    function's graph stops and Python runs on (every one met is counted, resumable or not)."""
    from torch._dynamo.utils import graph_break_reasons

    return len(graph_break_reasons)


def compile_seconds() -> float:
    """Seconds this process has spent compiling so far: Dynamo's frame compilations (tracing and, inside them,
    the backend's forward graphs) and the backward graphs compiled at their first backward pass (disjoint)."""
    from torch._dynamo.utils import compilation_time_metrics

    names = ("_compile.compile_inner", "backward._backward_impl")
    return float(sum(sum(compilation_time_metrics.get(n, [])) for n in names))


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


class CompileWatch:
    """Logs what a run compiles, once per epoch of this process: what its first epoch here compiled (one line: the
    graphs and seconds since the watch was made, before the run's first call), then any graph a later epoch
    compiles (a new shape: test episodes in more environments than the collection's, at the first evaluation)."""

    def __init__(self) -> None:
        self.start = (compiled_graphs(), compile_seconds())
        self.graphs: Optional[int] = None  # after the last epoch
        self.seconds = 0.0

    def epoch_done(self, epoch: int) -> None:
        graphs, seconds = compiled_graphs(), compile_seconds()
        if self.graphs is None:
            first_graphs, first_seconds = graphs - self.start[0], seconds - self.start[1]
            log.info(
                "torch.compile: %d graphs compiled in %.1f s, up to the end of epoch %d",
                first_graphs,
                first_seconds,
                epoch,
            )
        elif graphs > self.graphs:
            log.info(
                "torch.compile: epoch %d compiled %d more graphs in %.1f s (TORCH_LOGS=recompiles says why)",
                epoch,
                graphs - self.graphs,
                seconds - self.seconds,
            )
        self.graphs, self.seconds = graphs, seconds
