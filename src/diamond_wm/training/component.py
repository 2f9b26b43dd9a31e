"""One optimisation phase of one component (denoiser, reward/termination model or actor-critic): the same loop
for all, over the component's objective (`diamond_wm.training.objectives`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from tqdm import tqdm

from diamond_wm.data.batch import Batch

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

    def state_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "num_updates": self.num_updates,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.num_updates = int(state["num_updates"])


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
    start = time.perf_counter()
    for _ in tqdm(
        range(steps), desc=f"train {comp.name}", disable=not show_progress or steps == 0, leave=False
    ):
        if between_updates is not None:
            between_updates()  # e.g. adapt the CPU thread count to the machine's load
        comp.optimizer.zero_grad(set_to_none=True)
        for _ in range(comp.grad_acc_steps):
            loss, metrics = comp.objective(comp.batches())
            loss.backward()  # unscaled, as the published trainer: the accumulated gradients are summed
            for k, v in metrics.items():
                sums[k] += float(v) / comp.grad_acc_steps
        if comp.max_grad_norm is not None:
            grad_norm = torch.nn.utils.clip_grad_norm_(comp.model.parameters(), comp.max_grad_norm)
            sums["grad_norm"] += float(grad_norm)
        comp.optimizer.step()
        comp.scheduler.step()
        comp.num_updates += 1
    comp.objective.eval()
    out = {f"{comp.name}/{k}": v / steps for k, v in sums.items()} if steps else {}
    if steps:
        out[f"{comp.name}/lr"] = comp.scheduler.get_last_lr()[0]
        out[f"{comp.name}/num_updates"] = comp.num_updates
        out[f"{comp.name}/time_s"] = time.perf_counter() - start
    return out
