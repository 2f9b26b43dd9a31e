"""The run state in `checkpoints/state.pt`: one explicit, versioned dict that a resume restores exactly.

Keys: `format`, `version`, `epoch` (0: after the initial collection), `num_epochs_collect`, `num_env_steps`,
`seed`, `agent` (state_dict), `components` (optimizer, LR schedule, update count of each), `train_collector`
(its environments' saved games, when they can save them), `rollout` (the model-free rollout's carried state),
`datasets` (episode lengths of train and test, to roll the folders back to on resume) and `rng` (every random
number generator). Written atomically; read with `torch.load(weights_only=True)` only.

Seeds derived from the run's seed are here too, so that every part of a run draws from its own stream.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from diamond_wm.config.trainer import TrainCollectionConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.runtime.safe_load import safe_torch_load

STATE_FORMAT = "diamond-wm/training-state"
STATE_VERSION = 2  # 2: the published epoch schedule (`num_epochs_collect`); version 1 states are converted
TEST_SEED_OFFSET = 100_000  # test episodes of epoch e start from seed + TEST_SEED_OFFSET + e
FINAL_EVAL_SEED_OFFSET = 200_000  # the final test episodes start from seed + FINAL_EVAL_SEED_OFFSET
# Seeded seed + i (new streams go last: the earlier ones keep their seeds).
GENERATORS = ("denoiser", "rew_end_model", "wm_env", "train_collector", "test_collector", "upsampler")


def make_generators(seed: int) -> dict[str, torch.Generator]:
    """One torch.Generator per random stream of a run, generator i seeded `seed + i`."""
    return {name: torch.Generator().manual_seed(seed + i) for i, name in enumerate(GENERATORS)}


def read_state(path: Path, collection: TrainCollectionConfig) -> dict[str, Any]:
    """The run state in `path`, converted to the current version. ValueError (one line) if it is not ours."""
    state = safe_torch_load(path)  # weights_only; a refused or damaged file is one line naming it
    if (
        not isinstance(state, dict)
        or state.get("format") != STATE_FORMAT
        or state.get("version") not in (1, STATE_VERSION)
    ):
        found = (
            (state.get("format"), state.get("version")) if isinstance(state, dict) else type(state).__name__
        )
        raise ValueError(
            f"{path}: not a diamond-wm training state of version {STATE_VERSION} (found {found!r})"
        )
    if state["version"] == 1:
        # Version 1's schedule: epoch 1 was the initial collection, then one epoch per `steps_per_epoch` steps.
        left = max(0, collection.num_steps_total - state["num_env_steps"])
        collected_epochs = state["epoch"] - state["final_epochs_done"]
        state["num_epochs_collect"] = collected_epochs + -(-left // max(1, collection.steps_per_epoch))
    return state


def describe(state: dict[str, Any]) -> str:
    """Where a state leaves a run, e.g. 'the end of epoch 12' or 'the end of the initial collection'."""
    return f"epoch {state['epoch']}" if state["epoch"] else "the initial collection"


def restore_datasets(train: EpisodeDataset, test: EpisodeDataset, recorded: dict[str, list[int]]) -> None:
    """Roll the collected datasets back to the episode lengths a checkpoint recorded. The test dataset is emptied
    at the start of every evaluation: a run killed during one holds fewer test episodes than its checkpoint
    recorded, and starts with an empty one (the next evaluation collects it anew, as it would have)."""
    train.rollback(recorded["train"])
    if test.num_episodes >= len(recorded["test"]):
        test.rollback(recorded["test"])
    else:
        test.clear()
