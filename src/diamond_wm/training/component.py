"""One optimisation phase of one component (denoiser, reward/termination model or actor-critic): the same loop
for all, over the component's objective (`diamond_wm.training.objectives`).

In a multi-process run the objective is wrapped in DistributedDataParallel (`wrap_ddp`): each rank's backward
averages the gradients over the ranks, so every rank takes the same step. With gradient accumulation only the
last micro-batch's backward synchronises (`no_sync` before): the all-reduce then averages the ranks' sums, which is
the sum of the averages. Clipping follows the all-reduce, on the same gradients everywhere. Before the wrapping,
the weights of 1x1 convolutions take the strides their gradients come back with (`align_grad_layouts`).
"""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.data.batch import Batch
from diamond_wm.runtime.distributed import SINGLE, DistContext
from diamond_wm.runtime.precision import autocast
from diamond_wm.runtime.progress import Phase

BatchSource = Callable[[], Optional[Batch]]  # the next training batch (None for objectives that need none)


@dataclass
class ComponentState:
    """A component: the agent's module it trains (`model`), its objective (`forward(batch) -> (loss, metrics)`),
    where its batches come from, its optimizer, LR schedule and counters (saved in `state.pt`)."""

    name: str
    model: nn.Module
    objective: nn.Module
    batches: BatchSource
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    grad_acc_steps: int
    max_grad_norm: float | None
    num_updates: int = 0
    ddp: Optional[nn.Module] = None  # DistributedDataParallel(objective) in a multi-process run
    dist: DistContext = SINGLE
    precision: str = (
        "fp32"  # "bf16": the objective's forward under bf16 autocast (backward follows its dtypes)
    )

    def wrap_ddp(self, dist: DistContext) -> None:
        """Train through DistributedDataParallel over the ranks of `dist` (no-op for one process). DDP starts by
        giving every rank rank 0's parameters and buffers."""
        if not dist.is_distributed:
            return
        from torch.nn.parallel import DistributedDataParallel

        device = dist.device
        ids = [device.index] if device is not None and device.type == "cuda" else None
        align_grad_layouts(self.objective)
        # find_unused_parameters stays off: every parameter of an objective takes part in its loss (tested).
        self.ddp = DistributedDataParallel(self.objective, device_ids=ids)
        self.dist = dist

    def _sync_context(self, last: bool) -> contextlib.AbstractContextManager:
        return self.ddp.no_sync() if self.ddp is not None and not last else contextlib.nullcontext()

    def state_dict(self) -> dict[str, Any]:
        state = {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "num_updates": self.num_updates,
        }
        objective_state = self.objective_state()
        if objective_state is not None:
            state["objective"] = objective_state
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.num_updates = int(state["num_updates"])
        self.load_objective_state(state.get("objective", {}))

    def objective_state(self) -> Optional[dict[str, Any]]:
        """The objective's own training state (e.g. the reward class counts), None when it keeps none. Each rank of
        a multi-process run keeps its own: it counts its own batches."""
        objective_state = getattr(self.objective, "training_state", None)
        return objective_state() if objective_state is not None else None

    def load_objective_state(self, state: dict[str, Any]) -> None:
        load_objective = getattr(self.objective, "load_training_state", None)
        if load_objective is not None:  # a state saved before the objective had one: it starts afresh
            load_objective(state)


def align_grad_layouts(module: nn.Module) -> int:
    """Give the weight of every 1x1 convolution of `module` channels-last strides, in place; returns how many.

    A 1x1 kernel's weight (O, I, 1, 1) is the same memory in both layouts, but its strides differ: (I, 1, 1, 1)
    contiguous, (I, 1, I, I) channels-last. oneDNN and cuDNN convolutions of channels-last inputs (the networks'
    layout, `models.blocks.to_channels_last`) return the weight's gradient with channels-last strides, and
    DistributedDataParallel, whose buckets copy the parameters' strides, then warns "Grad strides do not match
    bucket view strides" and copies every such gradient into its bucket. With channels-last weights the
    gradients come back in their parameter's strides, whatever the input's layout. The weights' values and memory
    order are unchanged (only the strides are relabelled); the 1x1 convolutions of the networks take channels-last
    inputs, which they already computed in channels-last, so their results are the same bits."""
    count = 0
    for m in module.modules():
        w = getattr(m, "weight", None)
        if not isinstance(m, nn.Conv2d) or not isinstance(w, nn.Parameter) or tuple(w.shape[2:]) != (1, 1):
            continue
        aligned = torch.empty_like(w, memory_format=torch.channels_last)
        if aligned.stride() != w.stride():
            with torch.no_grad():
                w.data = aligned.copy_(w)
            count += 1
    return count


def train_component(
    comp: ComponentState,
    steps: int,
    show_progress: bool = True,
    between_updates: Optional[Callable[[], Any]] = None,
) -> dict[str, float]:
    """`steps` optimizer updates of `comp`, each over `grad_acc_steps` batches of its objective; mean metrics.

    As in the published trainer, the gradients of the `grad_acc_steps` losses are summed (not averaged), then
    clipped to `max_grad_norm` (`grad_norm` is their norm before clipping), then AdamW steps and the LR schedule
    advances.
    """
    comp.objective.train()
    prepare = getattr(
        comp.batches, "prepare", None
    )  # a disk-backed loader reads exactly this phase's batches
    if prepare is not None:
        prepare(steps * comp.grad_acc_steps)
    sums: dict[str, float] = defaultdict(float)
    losses: list[float] = []
    start = time.perf_counter()
    with Phase(f"train {comp.name}", steps, "update", show_progress) as phase:
        for _ in range(steps):
            losses.append(_update(comp, sums, between_updates))
            phase.update()
        phase.summary = f"{steps} updates"
    comp.objective.eval()
    if comp.dist.is_distributed and sums:  # the metrics of the whole (global) batch: the mean over the ranks
        keys = sorted(sums)
        means = comp.dist.mean_(
            torch.tensor([sums[k] for k in keys] + losses, dtype=torch.float64, device=comp.dist.device)
        ).tolist()
        sums, losses = dict(zip(keys, means[: len(keys)], strict=True)), means[len(keys) :]
    out = {f"{comp.name}/{k}": v / steps for k, v in sums.items()} if steps else {}
    if steps:
        # The loss of every update of the epoch (metrics.jsonl only; 5 significant digits): learning curves at
        # the resolution of single updates, e.g. to compare precisions over a run's first updates.
        out[f"{comp.name}/loss_per_update"] = [float(f"{v:.5g}") for v in losses]
        out[f"{comp.name}/lr"] = comp.scheduler.get_last_lr()[0]
        out[f"{comp.name}/num_updates"] = comp.num_updates
        out[f"{comp.name}/time_s"] = time.perf_counter() - start
    return out


def _update(
    comp: ComponentState, sums: dict[str, float], between_updates: Optional[Callable[[], None]]
) -> float:
    """One optimizer update of `comp`; its metrics are added to `sums`; returns its loss (summed over the
    `grad_acc_steps` batches, as its gradients)."""
    if between_updates is not None:
        between_updates()  # e.g. adapt the CPU thread count to the machine's load
    comp.optimizer.zero_grad(set_to_none=True)
    forward = comp.ddp if comp.ddp is not None else comp.objective
    total = 0.0
    for i in range(comp.grad_acc_steps):
        with comp._sync_context(last=i == comp.grad_acc_steps - 1):
            batch = comp.batches()
            with autocast(_device_of(comp.model), comp.precision):
                loss, metrics = forward(batch)
            total += float(loss.detach())  # before backward: reading it then waits for the forward pass only
            loss.float().backward()  # unscaled, as the published trainer: the accumulated gradients are summed
        for k, v in metrics.items():
            sums[k] += float(v) / comp.grad_acc_steps
    if comp.max_grad_norm is not None:
        grad_norm = torch.nn.utils.clip_grad_norm_(comp.model.parameters(), comp.max_grad_norm)
        sums["grad_norm"] += float(grad_norm)
    comp.optimizer.step()
    comp.scheduler.step()
    comp.num_updates += 1
    return total


def _device_of(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
