"""The epoch schedule and the per-update learning-rate warm-up of the published trainer.

- Before epoch 1, an initial collection of `first_epoch.min` steps, extended `steps_per_epoch` steps at a time
  (up to `first_epoch.max`) until the two rarer reward signs total `threshold_rew`. What it collected fixes the
  number of collecting epochs: ceil((num_steps_total - collected) / steps_per_epoch).
- Every collecting epoch, epoch 1 included, first collects `steps_per_epoch` steps (never beyond
  `num_steps_total`), then trains, then evaluates every `evaluation.every` epochs. Then `num_final_epochs` epochs
  train without collecting. A static-dataset run and a model-free run (as published) have neither the initial
  collection nor a collecting epoch: they are their `num_final_epochs` epochs.
- A component trains only once `epoch > start_after_epochs`: `steps_first_epoch` updates at epoch 1,
  `steps_per_epoch` at every other epoch.
- Update k of a component (counting from 0) runs at LR x min(1, k / lr_warmup_steps): update 0 runs at LR 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from diamond_wm.config.trainer import ComponentTrainingConfig, FirstEpochCollectionConfig


def warmup_multiplier(update: int, lr_warmup_steps: int) -> float:
    """LR multiplier of update `update` (from 0): a linear ramp from 0 reaching 1 at update `lr_warmup_steps`."""
    if update >= lr_warmup_steps:
        return 1.0
    return update / lr_warmup_steps


def component_steps(training: ComponentTrainingConfig, epoch: int) -> int:
    """Updates of a component in `epoch` (from 1): none until `start_after_epochs` have passed."""
    if epoch <= training.start_after_epochs:
        return 0
    return training.steps_first_epoch if epoch == 1 else training.steps_per_epoch


def initial_collection(
    collect: Callable[[int], Any],
    counts_rew: Callable[[], list[int]],
    num_steps: Callable[[], int],
    first_epoch: FirstEpochCollectionConfig,
    steps_per_epoch: int,
) -> list[Any]:
    """Collect `first_epoch.min` steps, then `steps_per_epoch` more at a time while the two rarer reward signs
    total less than `threshold_rew` and `first_epoch.max` is not reached. Returns the reports of `collect`."""
    reports = [collect(first_epoch.min)]
    while sum(sorted(counts_rew())[:2]) < first_epoch.threshold_rew:
        if first_epoch.max is not None and num_steps() >= first_epoch.max:
            break
        reports.append(collect(steps_per_epoch))
    return reports


@dataclass
class EpochSchedule:
    """Which epochs collect, and how many epochs the run has. `num_epochs_collect` is None until the initial
    collection is done (it is saved with the run's state)."""

    steps_per_epoch: int
    num_steps_total: int
    num_final_epochs: int
    num_epochs_collect: Optional[int] = None

    @property
    def started(self) -> bool:
        """True once the number of collecting epochs is known (after the initial collection)."""
        return self.num_epochs_collect is not None

    def set_collected(self, num_env_steps: int) -> None:
        """Fix the number of collecting epochs from the steps the initial collection gathered."""
        remaining = max(0, self.num_steps_total - num_env_steps)
        self.num_epochs_collect = -(-remaining // max(1, self.steps_per_epoch))

    def no_collection(self) -> None:
        """A run that never collects (a static dataset, model-free mode): only the final epochs."""
        self.num_epochs_collect = 0

    @property
    def num_epochs(self) -> int:
        """All epochs of the run: the collecting ones, then the final ones."""
        if self.num_epochs_collect is None:
            raise RuntimeError("the number of epochs is known after the initial collection")
        return self.num_epochs_collect + self.num_final_epochs

    def collects(self, epoch: int) -> bool:
        """Whether `epoch` (from 1) starts by collecting real steps."""
        return self.num_epochs_collect is not None and epoch <= self.num_epochs_collect

    def steps_to_collect(self, num_env_steps: int) -> int:
        """Steps a collecting epoch gathers: `steps_per_epoch`, never beyond `num_steps_total`."""
        return max(0, min(self.steps_per_epoch, self.num_steps_total - num_env_steps))
