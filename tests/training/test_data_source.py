"""`data_source`: one source of episodes per process, chosen from the run's config and the process's rank."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.training.data_source import (
    CollectingSource,
    FollowerSource,
    ModelFreeSource,
    StaticSource,
    data_source,
)
from diamond_wm.training.run_dir import RunDir
from diamond_wm.training.run_state import make_generators
from diamond_wm.training.schedule import EpochSchedule
from tests.training.test_static_run import static_dataset
from tests.training.test_train_cli import CATCH

RANK_0, RANK_1 = SimpleNamespace(is_main=True), SimpleNamespace(is_main=False)


def _catch(*overrides: str):
    return to_trainer_config(compose_trainer_config([*CATCH, *overrides]))


@pytest.mark.parametrize("model_free", [False, True])
def test_rank_0_collects_or_not_and_the_other_ranks_follow(model_free):
    cfg = _catch(f"training.model_free={str(model_free).lower()}")
    rank_0 = data_source(cfg, RANK_0)
    assert type(rank_0) is (ModelFreeSource if model_free else CollectingSource)
    assert rank_0.plays and rank_0.evaluates
    follower = data_source(cfg, RANK_1)
    assert type(follower) is FollowerSource and follower.plays and not follower.evaluates


class _Rank0:
    """Rank 0 of a two-process run, recording what it broadcasts to the other rank."""

    is_main = is_distributed = True

    def __init__(self) -> None:
        self.sent: list[Any] = []

    def broadcast_object(self, obj: Any) -> Any:
        self.sent.append(obj)
        return obj


def test_a_model_free_source_collects_only_test_episodes(tmp_path):
    # As published: no initial collection, no collecting epoch; the evaluations still play test episodes.
    cfg = _catch("training.model_free=true", "training.num_final_epochs=4")
    dist = _Rank0()
    source = data_source(cfg, dist)
    spec = source.open(torch.device("cpu"))
    assert source.train_env is None and source.test_env is not None  # the rollout steps its own environments
    source.attach(RunDir(tmp_path), True, spec, None, make_generators(0), 0, show_progress=False)
    col = cfg.collection.train
    schedule = EpochSchedule(col.steps_per_epoch, col.num_steps_total, cfg.training.num_final_epochs)
    assert source.initial_collection(schedule) == (0, None)
    assert schedule.num_epochs_collect == 0 and schedule.num_epochs == 4
    assert not any(schedule.collects(e) for e in range(1, 5))
    assert source.collect(25) is None
    source.share_index()
    assert dist.sent == [
        spec,
        (0, 0),
        [],
    ]  # what a `FollowerSource` receives: the spec, the schedule, the index
    metrics = source.test_episodes(2, seed=7, prefix="test")
    assert len(metrics["test/returns"]) == 2 and "test/return_mean" in metrics
    assert source.test_dataset.num_episodes == 2 and source.train_dataset.num_episodes == 0
    state = source.state_dict()
    assert state["train_collector"] is None and state["datasets"]["train"] == []
    source.load_state_dict(state | {"datasets": {"train": [], "test": state["datasets"]["test"][:1]}})
    assert source.test_dataset.num_episodes == 1  # rolled back to what a checkpoint recorded
    source.close()


def test_a_static_dataset_is_every_rank_s_and_is_checked_first(tmp_path):
    cfg = _catch(f"static_dataset.path={static_dataset(tmp_path)}")
    sources = [data_source(cfg, rank) for rank in (RANK_0, RANK_1)]
    assert all(type(s) is StaticSource and not s.plays for s in sources)
    assert [s.evaluates for s in sources] == [True, False]
    cfg.static_dataset.path = str(tmp_path / "missing")
    with pytest.raises(ValueError, match="missing"):
        data_source(cfg, RANK_0)
    assert not (tmp_path / "missing").exists()
