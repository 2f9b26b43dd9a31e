"""Where a training run's episodes come from, chosen once per process: `data_source(cfg, dist)`.

- `StaticSource`: a static dataset (`static_dataset.path`), read-only. It gives the actions; no game is played,
  no test episode either (as published): a world model's evaluation is its test losses.
- `CollectingSource`: rank 0 (or the only process) of a run that plays the real game. It owns the train and test
  environments, the run folder's datasets and the collectors that fill them: the initial collection, the
  collecting epochs and the test episodes.
- `ModelFreeSource`: rank 0 of a model-free run (`training.model_free`). As published, it collects nothing on
  the schedule (no initial collection, no collecting epoch: the run is its `num_final_epochs` epochs) and plays
  only the test episodes of the evaluations; the actor-critic learns on real environments that its rollout
  steps itself (built by `training.build`), and the train dataset stays empty.
- `FollowerSource`: another rank of a multi-process run that plays the game (model-free or not): it receives
  rank 0's schedule and the index of rank 0's train dataset (read from the run folder) and collects nothing.

A source is built in three steps, at the trainer's points of construction (the random streams depend on their
order): `data_source` (checks a static dataset before anything is written), `open` (the datasets or environments
that give the action spec), `attach` (the run folder's datasets and the collectors, once the folder exists).
Only rank 0 evaluates (`evaluates`); every method that a rank has nothing to do for does nothing.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.action_specs import dataset_action_spec
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.static import resolve_static_dataset
from diamond_wm.envs.factory import make_env
from diamond_wm.runtime.distributed import DistContext
from diamond_wm.training import build
from diamond_wm.training.collector import CollectionReport, Collector
from diamond_wm.training.run_dir import RunDir
from diamond_wm.training.run_state import restore_datasets
from diamond_wm.training.schedule import EpochSchedule, initial_collection
from diamond_wm.training.static_checks import check_static_dataset

log = logging.getLogger(__name__)


class DataSource:
    """The episodes of a run on this process: `train_dataset`, `test_dataset`, an upsampler's full-resolution
    ones (`full_res_train`, `full_res_test`, else None), and the real environments (`train_env`, `test_env`,
    None where this process plays no game). `plays`: the run's episodes are played (False: a static dataset);
    `evaluates`: this process runs the evaluations (rank 0)."""

    plays = True

    def __init__(self, cfg: TrainerConfig, dist: DistContext) -> None:
        self.cfg, self.dist = cfg, dist
        self.evaluates = dist.is_main
        self.train_dataset: EpisodeDataset
        self.test_dataset: EpisodeDataset
        self.full_res_train: Optional[EpisodeDataset] = None
        self.full_res_test: Optional[EpisodeDataset] = None
        self.train_env: Any = None
        self.test_env: Any = None

    def open(self, device: torch.device) -> Optional[ActionSpec]:
        """What gives the run's actions; returns the action spec (None: the environments' number of actions is
        the agent config's), the same on every rank."""
        raise NotImplementedError

    def attach(
        self,
        run_dir: RunDir,
        new_run: bool,
        action_spec: Optional[ActionSpec],
        policy: Optional[nn.Module],
        generators: dict[str, torch.Generator],
        seed: Optional[int],
        show_progress: bool,
    ) -> None:
        """Open the run folder's datasets and the collectors (`policy` acts; `generators` are the run's streams;
        `seed` seeds the first reset of the train environments). `new_run`: no checkpoint to resume from."""

    def initial_collection(self, schedule: EpochSchedule) -> tuple[int, Optional[dict[str, Any]]]:
        """Before epoch 1: collect (or learn what rank 0 collected) and fix `schedule`'s collecting epochs.
        Returns (environment steps collected, the metrics of epoch 0: None where there are none to log)."""
        schedule.no_collection()
        return 0, None

    def collect(self, num_steps: int) -> Optional[CollectionReport]:
        """A collecting epoch's `num_steps` steps; None where this process collects nothing."""
        return None

    def share_index(self) -> None:
        """Before a training phase: every rank trains on rank 0's episodes as they are now."""

    def test_episodes(self, num_episodes: int, seed: int, prefix: str) -> dict[str, Any]:
        """Play `num_episodes` test episodes from `seed` into the (emptied) test dataset; their metrics under
        `prefix/`. Empty where no game is played."""
        return {}

    def state_dict(self) -> dict[str, Any]:
        """The source's part of the run state: `train_collector` and `datasets` (episode lengths)."""
        return {
            "train_collector": None,
            "datasets": {
                "train": self.train_dataset.lengths.tolist(),
                "test": self.test_dataset.lengths.tolist(),
            },
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from a run state (the source's part of it, as `state_dict` wrote it)."""

    def close(self) -> None:
        """Close the environments."""
        for env in (self.train_env, self.test_env):
            if env is not None:
                env.close()


class StaticSource(DataSource):
    """A static dataset: read-only, never collected into (see the module docstring)."""

    plays = False

    def __init__(self, cfg: TrainerConfig, dist: DistContext) -> None:
        super().__init__(cfg, dist)
        self.paths = resolve_static_dataset(cfg.static_dataset.path)  # a bad dataset fails here

    def open(self, device: torch.device) -> Optional[ActionSpec]:
        cfg = self.cfg
        self.train_dataset, self.test_dataset = build.build_static_datasets(
            self.paths, cfg.training.cache_in_ram
        )
        action_spec = dataset_action_spec(self.train_dataset, self.test_dataset)
        check_static_dataset(cfg, self.train_dataset, action_spec)
        if cfg.static_dataset.full_res_path is not None:
            self.full_res_train, self.full_res_test = build.full_res_datasets(
                cfg.static_dataset.full_res_path, self.train_dataset, self.test_dataset
            )
        return action_spec


class _PlayingSource(DataSource):
    """Rank 0 of a run that plays the real game: the test environment, the run folder's datasets, the test
    episodes. What it adds to the train dataset is its subclass's."""

    def __init__(self, cfg: TrainerConfig, dist: DistContext) -> None:
        super().__init__(cfg, dist)
        self.test_collector: Optional[Collector] = None

    def _open_test_env(self, device: torch.device) -> Optional[ActionSpec]:
        cfg = self.cfg
        self.test_env = make_env(cfg.env.test, cfg.env.type, cfg.collection.test.num_envs, device)
        return self.test_env.action_spec

    def attach(
        self,
        run_dir: RunDir,
        new_run: bool,
        action_spec: Optional[ActionSpec],
        policy: Optional[nn.Module],
        generators: dict[str, torch.Generator],
        seed: Optional[int],
        show_progress: bool,
    ) -> None:
        cfg = self.cfg
        self.train_dataset, self.test_dataset = build.build_datasets(
            run_dir, None, cfg.training.cache_in_ram, action_spec
        )
        if new_run:
            build.discard_interrupted_start(run_dir, self.train_dataset, self.test_dataset)
        self.test_collector = Collector(
            self.test_env, self.test_dataset, policy, epsilon=cfg.collection.test.epsilon, reset_every_collect=True,
            show_progress=show_progress, generator=generators["test_collector"], precision=cfg.training.precision,
        )  # fmt: skip

    def share_index(self) -> None:
        if self.dist.is_distributed:
            self.dist.broadcast_object(self.train_dataset.lengths.tolist())

    def test_episodes(self, num_episodes: int, seed: int, prefix: str) -> dict[str, Any]:
        assert self.test_collector is not None, "attach() first"
        if num_episodes <= 0:
            return {}
        self.test_dataset.clear()
        report = self.test_collector.collect(num_episodes=num_episodes, seed=seed)
        metrics: dict[str, Any] = report.metrics(prefix=f"{prefix}/")
        metrics[f"{prefix}/returns"] = report.returns[:num_episodes]
        metrics[f"{prefix}/lengths"] = report.lengths[:num_episodes]
        return metrics

    def load_state_dict(self, state: dict[str, Any]) -> None:
        restore_datasets(self.train_dataset, self.test_dataset, state["datasets"])


class CollectingSource(_PlayingSource):
    """Rank 0 of a run that collects on the schedule: the test episodes, and the train environment and
    collector that fill the train dataset."""

    def __init__(self, cfg: TrainerConfig, dist: DistContext) -> None:
        super().__init__(cfg, dist)
        self.train_collector: Optional[Collector] = None

    def open(self, device: torch.device) -> Optional[ActionSpec]:
        cfg = self.cfg
        action_spec = self._open_test_env(device)
        self.train_env = make_env(cfg.env.train, cfg.env.type, cfg.collection.train.num_envs, device)
        return self.dist.broadcast_object(action_spec)

    def attach(
        self,
        run_dir: RunDir,
        new_run: bool,
        action_spec: Optional[ActionSpec],
        policy: Optional[nn.Module],
        generators: dict[str, torch.Generator],
        seed: Optional[int],
        show_progress: bool,
    ) -> None:
        super().attach(run_dir, new_run, action_spec, policy, generators, seed, show_progress)
        self.train_collector = Collector(
            self.train_env, self.train_dataset, policy, epsilon=self.cfg.collection.train.epsilon,
            reset_every_collect=False, show_progress=show_progress, seed=seed, generator=generators["train_collector"],
            precision=self.cfg.training.precision,
        )  # fmt: skip

    def initial_collection(self, schedule: EpochSchedule) -> tuple[int, Optional[dict[str, Any]]]:
        assert self.train_collector is not None, "attach() first"
        collector, dataset, col = self.train_collector, self.train_dataset, self.cfg.collection.train
        report = CollectionReport.merge(
            initial_collection(
                lambda n: collector.collect(num_steps=n),
                lambda: dataset.counts_rew,
                lambda: dataset.num_steps,
                col.first_epoch,
                col.steps_per_epoch,
            )
        )
        schedule.set_collected(report.num_steps)
        self.dist.broadcast_object((report.num_steps, schedule.num_epochs_collect))
        log.info(
            "initial collection: %d steps (reward signs -1/0/+1: %s); %d collecting epochs of %d steps, "
            "then %d final epochs",
            report.num_steps,
            "/".join(str(c) for c in dataset.counts_rew),
            schedule.num_epochs_collect,
            col.steps_per_epoch,
            schedule.num_final_epochs,
        )
        return report.num_steps, report.metrics(prefix="collect/")

    def collect(self, num_steps: int) -> Optional[CollectionReport]:
        assert self.train_collector is not None, "attach() first"
        return self.train_collector.collect(num_steps=num_steps)

    def state_dict(self) -> dict[str, Any]:
        assert self.train_collector is not None, "attach() first"
        return super().state_dict() | {"train_collector": self.train_collector.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        assert self.train_collector is not None, "attach() first"
        super().load_state_dict(state)
        self.train_collector.load_state_dict(state["train_collector"])


class ModelFreeSource(_PlayingSource):
    """Rank 0 of a model-free run (`training.model_free`), as published: no collection at all (the train
    dataset stays empty, the run is `num_final_epochs` epochs), only the test episodes of the evaluations."""

    def open(self, device: torch.device) -> Optional[ActionSpec]:
        return self.dist.broadcast_object(self._open_test_env(device))

    def initial_collection(self, schedule: EpochSchedule) -> tuple[int, Optional[dict[str, Any]]]:
        schedule.no_collection()
        self.dist.broadcast_object((0, schedule.num_epochs_collect))  # what the other ranks follow
        log.info("model-free: no collection; %d epochs", schedule.num_epochs)
        return 0, None


class FollowerSource(DataSource):
    """A rank other than 0 of a run that plays the game: rank 0's schedule and train episodes, no collection."""

    def open(self, device: torch.device) -> Optional[ActionSpec]:
        return self.dist.broadcast_object(None)

    def attach(
        self,
        run_dir: RunDir,
        new_run: bool,
        action_spec: Optional[ActionSpec],
        policy: Optional[nn.Module],
        generators: dict[str, torch.Generator],
        seed: Optional[int],
        show_progress: bool,
    ) -> None:
        self.train_dataset, self.test_dataset = build.follower_datasets(
            run_dir, self.cfg.training.cache_in_ram, action_spec
        )

    def initial_collection(self, schedule: EpochSchedule) -> tuple[int, Optional[dict[str, Any]]]:
        num_env_steps, schedule.num_epochs_collect = self.dist.broadcast_object(None)
        return num_env_steps, None

    def share_index(self) -> None:
        self.train_dataset.follow_index(self.dist.broadcast_object(None))


def data_source(cfg: TrainerConfig, dist: DistContext) -> DataSource:
    """This process's source of episodes for the run configured by `cfg` (see the module docstring). A static
    dataset is resolved here: a bad one fails before anything is written."""
    if cfg.static_dataset.path is not None:
        return StaticSource(cfg, dist)
    if not dist.is_main:
        return FollowerSource(cfg, dist)
    return ModelFreeSource(cfg, dist) if cfg.training.model_free else CollectingSource(cfg, dist)
