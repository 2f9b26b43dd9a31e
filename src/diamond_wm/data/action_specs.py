"""The action spec of a dataset: checks of its episodes' actions, and the spec of a dataset that records none.

Datasets written by diamond-wm record their spec (`action_spec.json` beside `info.pt`); the published code's do
not. Their spec is read off their episodes: float vectors (T, D) are D multi-hot dimensions; int64 indices are
discrete actions, as many as the largest index + 1 over every episode (a lower bound: an action that was never
taken is not seen).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Optional

import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data.errors import DatasetError

if TYPE_CHECKING:
    from diamond_wm.data.dataset import EpisodeDataset

log = logging.getLogger(__name__)


def check_actions(act: torch.Tensor, spec: ActionSpec, where: str) -> None:
    """`DatasetError` (one line starting with `where`) unless `act` holds actions of `spec`."""
    try:
        spec.validate(act, what="its actions")
    except ValueError as e:
        raise DatasetError(f"{where}: {e}") from None


def infer_action_spec(dataset: EpisodeDataset) -> Optional[ActionSpec]:
    """The spec read off the episodes (see the module docstring); None for an empty dataset."""
    if dataset.num_episodes == 0:
        return None
    first = ActionSpec.infer(dataset.load_episode(0).act)
    if not first.is_discrete:
        return first
    top = max(int(dataset.load_episode(i).act.max()) for i in range(dataset.num_episodes))
    return ActionSpec.discrete(top + 1)


def dataset_action_spec(train: EpisodeDataset, test: Optional[EpisodeDataset] = None) -> ActionSpec:
    """The actions of a (static) dataset: its recorded spec, else the one inferred from its episodes (logged).
    The test dataset, when it records a spec, must hold actions of the same kind and number."""
    spec = train.action_spec
    if spec is None:
        spec = infer_action_spec(train)
        if spec is None:
            raise DatasetError(f"dataset {train.directory}: no episode, no action spec")
        log.warning(
            "%s records no action spec: %s inferred from its episodes%s",
            train.directory,
            spec.describe(),
            " (the largest action index + 1)" if spec.is_discrete else "",
        )
    other = test.action_spec if test is not None else None
    if other is not None and not other.same_layout(spec):
        raise DatasetError(
            f"test dataset {test.directory} holds {other.describe()} but training dataset {train.directory} "
            f"holds {spec.describe()}"
        )
    return spec
