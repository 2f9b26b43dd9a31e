"""`data_source`: one source of episodes per process, chosen from the run's config and the process's rank."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.training.data_source import CollectingSource, FollowerSource, StaticSource, data_source
from tests.training.test_static_run import static_dataset
from tests.training.test_train_cli import CATCH

RANK_0, RANK_1 = SimpleNamespace(is_main=True), SimpleNamespace(is_main=False)


@pytest.mark.parametrize("model_free", [False, True])
def test_rank_0_collects_and_the_other_ranks_follow(model_free):
    cfg = to_trainer_config(
        compose_trainer_config([*CATCH, f"training.model_free={str(model_free).lower()}"])
    )
    assert type(data_source(cfg, RANK_0)) is CollectingSource  # model-free runs collect on the schedule too
    follower = data_source(cfg, RANK_1)
    assert type(follower) is FollowerSource and follower.plays and not follower.evaluates


def test_a_static_dataset_is_every_rank_s_and_is_checked_first(tmp_path):
    cfg = to_trainer_config(
        compose_trainer_config([*CATCH, f"static_dataset.path={static_dataset(tmp_path)}"])
    )
    sources = [data_source(cfg, rank) for rank in (RANK_0, RANK_1)]
    assert all(type(s) is StaticSource and not s.plays for s in sources)
    assert [s.evaluates for s in sources] == [True, False]
    cfg.static_dataset.path = str(tmp_path / "missing")
    with pytest.raises(ValueError, match="missing"):
        data_source(cfg, RANK_0)
    assert not (tmp_path / "missing").exists()
