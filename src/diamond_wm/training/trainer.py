"""The DIAMOND training loop: collect, train the world model, train the actor-critic in imagination, evaluate.

The schedule is the published trainer's (see `diamond_wm.training.schedule`): an initial collection before
epoch 1 fixes the number of collecting epochs; each of them collects `steps_per_epoch` steps, then trains, then
evaluates every `evaluation.every` epochs; `num_final_epochs` epochs train without collecting; at the end
`num_final_episodes` test episodes whose mean return is the run's score.

The run's parts come from `training.build`; what it writes goes through `training.outputs`; its state is the
versioned dict of `training.run_state`, saved (atomically) after the initial collection ("epoch 0") and at the
end of each epoch, so an interrupted run resumes from its last checkpoint. A run interrupted before its first
checkpoint starts over: the episodes it had collected are discarded.

Launched by torchrun (`diamond_wm.runtime.distributed`), every process runs this loop on its own device: rank 0
alone collects, evaluates and writes; every rank trains every part through DistributedDataParallel on its share of
the episodes (`diamond_wm.training.ranks` says what is shared); a barrier ends every epoch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.action_specs import dataset_action_spec
from diamond_wm.data.static import resolve_static_dataset
from diamond_wm.envs.factory import make_env
from diamond_wm.models.agent import Agent
from diamond_wm.runtime import distributed
from diamond_wm.runtime.compile import compile_world_model
from diamond_wm.runtime.memory import tune_malloc
from diamond_wm.runtime.seeding import seed_everything
from diamond_wm.runtime.threads import ThreadGovernor
from diamond_wm.training import build
from diamond_wm.training.collector import CollectionReport, Collector
from diamond_wm.training.component import train_component
from diamond_wm.training.evaluation import run_test_losses
from diamond_wm.training.outputs import RunOutputs
from diamond_wm.training.ranks import (
    check_in_sync,
    gather_rank_states,
    own_state,
    process_device,
    rank_seed,
    shared_seed,
)
from diamond_wm.training.rng import capture_rng_state, restore_rng_state
from diamond_wm.training.run_dir import RunDir
from diamond_wm.training.run_state import (
    FINAL_EVAL_SEED_OFFSET,
    STATE_FORMAT,
    STATE_VERSION,
    TEST_SEED_OFFSET,
    describe,
    make_generators,
    read_state,
    restore_datasets,
)
from diamond_wm.training.schedule import EpochSchedule, component_steps, initial_collection
from diamond_wm.training.static_checks import check_static_dataset
from diamond_wm.training.summary import epoch_summary, final_summary

log = logging.getLogger(__name__)

__all__ = ["FINAL_EVAL_SEED_OFFSET", "TEST_SEED_OFFSET", "Trainer"]


class Trainer:
    """Runs (or resumes) one training run in `run_dir` with the composed configuration `cfg`."""

    def __init__(self, cfg: TrainerConfig, run_dir: str | Path, show_progress: bool = True) -> None:
        self.cfg = cfg
        self.static = cfg.static_dataset.path is not None
        # A bad static dataset fails here, before anything is written.
        static_paths = resolve_static_dataset(cfg.static_dataset.path) if self.static else None
        self.dist = dist = distributed.current()
        self.device = process_device(cfg.common.devices, dist)
        self.run_dir = RunDir(Path(run_dir))
        self.outputs = RunOutputs(self.run_dir, enabled=dist.is_main)  # only rank 0 writes
        self.outputs.start_log()
        self.show_progress = show_progress and dist.is_main
        self.threads: Optional[ThreadGovernor] = None
        if self.device.type == "cpu":
            tune_malloc()  # keep large activations in the heap: a ~2.5x faster training step on CPU
            self.threads = ThreadGovernor()  # as many torch threads as other processes leave cores free
        state = (
            read_state(self.run_dir.state_file, cfg.collection.train)
            if self.run_dir.state_file.exists()
            else None
        )
        self.seed = shared_seed(state["seed"] if state is not None else cfg.common.seed, dist)
        self.rank_seed = seed_everything(rank_seed(self.seed, dist))
        self.seed = self.rank_seed - dist.rank  # one process: the seed drawn, when none was given
        cfg.common.seed = self.seed
        self.model_free = cfg.training.model_free

        # Environments (none for a static dataset: it gives the actions, and no episode is played, as published).
        # Sub-env i of the train env is seeded seed + i; test episodes get their own seeds.
        self.train_env = self.test_env = None
        self.full_res_train = self.full_res_test = None  # an upsampler's full-resolution episodes
        if self.static:
            self.train_dataset, self.test_dataset = build.build_static_datasets(
                static_paths, cfg.training.cache_in_ram
            )
            action_spec = dataset_action_spec(self.train_dataset, self.test_dataset)
            check_static_dataset(cfg, self.train_dataset, action_spec)
            if cfg.static_dataset.full_res_path is not None:
                self.full_res_train, self.full_res_test = build.full_res_datasets(
                    cfg.static_dataset.full_res_path, self.train_dataset, self.test_dataset
                )
        else:  # rank 0 alone plays the real game; the others learn its actions from it
            action_spec = None
            if dist.is_main:
                self.test_env = make_env(
                    cfg.env.test, cfg.env.type, cfg.collection.test.num_envs, self.device
                )
                self.train_env = make_env(
                    cfg.env.train, cfg.env.type, cfg.collection.train.num_envs, self.device
                )
                action_spec = self.test_env.action_spec
            action_spec = dist.broadcast_object(action_spec)

        self.agent = Agent(cfg.agent, action_spec).to(self.device)
        if state is None and cfg.initialization.path_to_ckpt is not None:
            build.initialize_agent(self.agent, cfg)
        if cfg.training.compile_wm:
            compile_world_model(self.agent)  # in place: checkpoints keep their keys

        # The run folder gets a configuration only now: a bad static dataset or initialization checkpoint failed
        # above, leaving nothing that a later `--resume` would pick up.
        self.outputs.create(cfg, write_config=state is None, action_spec=action_spec)
        if not self.static and dist.is_main:
            self.train_dataset, self.test_dataset = build.build_datasets(
                self.run_dir, None, cfg.training.cache_in_ram, action_spec
            )
            if state is None:
                build.discard_interrupted_start(self.run_dir, self.train_dataset, self.test_dataset)
        elif not self.static:  # rank 0's episodes, read from the run folder
            self.train_dataset, self.test_dataset = build.follower_datasets(
                self.run_dir, cfg.training.cache_in_ram, action_spec
            )

        self.generators = make_generators(self.rank_seed)
        shard = (dist.rank, dist.world_size)
        samplers = build.build_segment_samplers(
            cfg, self.train_dataset, self.generators, self.agent.parts, shard
        )
        self.rl_env, self.rollout = build.build_rollout(
            cfg, self.agent, self.train_dataset, self.device, self.rank_seed, self.generators["wm_env"], shard
        )
        batches = build.batch_sources(cfg, samplers, self.device, self.full_res_train)
        self.components = build.build_components(cfg, self.agent, self.rollout, batches)
        for comp in self.components.values():  # in the same order on every rank
            comp.wrap_ddp(dist)

        col = cfg.collection
        self.train_collector = self.test_collector = None
        if self.train_env is not None:  # rank 0 of a run that plays the game: both environments
            policy, gens = self.agent.actor_critic, self.generators
            self.train_collector = Collector(
                self.train_env, self.train_dataset, policy, epsilon=col.train.epsilon, reset_every_collect=False,
                show_progress=show_progress, seed=self.seed, generator=gens["train_collector"],
            )  # fmt: skip
            self.test_collector = Collector(
                self.test_env, self.test_dataset, policy, epsilon=col.test.epsilon, reset_every_collect=True,
                show_progress=show_progress, generator=gens["test_collector"],
            )  # fmt: skip

        self.schedule = EpochSchedule(
            col.train.steps_per_epoch, col.train.num_steps_total, cfg.training.num_final_epochs
        )
        self.epoch = 0
        self._recent_epoch_s: list[float] = []
        self._last_evaluation: tuple[int, dict[str, Any]] = (-1, {})  # its epoch and metrics
        self.num_env_steps = 0
        if state is not None:
            self._load_state(state)
        self.outputs.open_metrics(cfg)
        dist.barrier()  # every rank has read the run state before rank 0 writes the next one

    # ---------------------------------------------------------------- main loop

    def run(self) -> dict[str, Any]:
        """Train until the schedule is done, then run the final evaluation. Returns the final metrics."""
        if self.run_dir.is_finished:
            log.info("run %s is already finished: nothing to do", self.run_dir.root)
            self.close()
            return self.outputs.final_metrics()
        try:
            if self.threads is not None:
                self.threads.start()
            if not self.schedule.started:
                self._start()
            while self.epoch < self.schedule.num_epochs:
                self._run_epoch()
            final = self._final_evaluation()
        finally:
            self.close()
        return final

    def close(self) -> None:
        """Flush metrics, close environments and the log file."""
        for env in (self.train_env, self.test_env, self.rl_env):
            if env is not None:
                env.close()
        self.outputs.close()

    def _start(self) -> None:
        """Before epoch 1: the initial collection, which fixes the number of collecting epochs; then the
        "epoch 0" checkpoint, so that an interruption later in epoch 1 does not repeat the collection."""
        if self.static:
            self.schedule.no_collection()
            self._save_checkpoint()
            return
        if not self.dist.is_main:  # rank 0 collects: its schedule, then the checkpoint, are everyone's
            self.num_env_steps, self.schedule.num_epochs_collect = self.dist.broadcast_object(None)
            self._save_checkpoint()
            return
        col = self.cfg.collection.train
        report = CollectionReport.merge(
            initial_collection(
                lambda n: self.train_collector.collect(num_steps=n),
                lambda: self.train_dataset.counts_rew,
                lambda: self.train_dataset.num_steps,
                col.first_epoch,
                col.steps_per_epoch,
            )
        )
        self.num_env_steps += report.num_steps
        self.schedule.set_collected(self.num_env_steps)
        self.dist.broadcast_object((self.num_env_steps, self.schedule.num_epochs_collect))
        log.info(
            "initial collection: %d steps (reward signs -1/0/+1: %s); %d collecting epochs of %d steps, "
            "then %d final epochs",
            self.num_env_steps,
            "/".join(str(c) for c in self.train_dataset.counts_rew),
            self.schedule.num_epochs_collect,
            col.steps_per_epoch,
            self.schedule.num_final_epochs,
        )
        self._save_checkpoint()
        metrics = {"epoch": 0, "env_steps": self.num_env_steps, **report.metrics(prefix="collect/")}
        self.outputs.log_metrics(metrics, step=0)

    def _run_epoch(self) -> None:
        start = time.perf_counter()
        self.epoch += 1
        metrics: dict[str, Any] = {"epoch": self.epoch}
        if self.threads is not None:
            self.threads.adapt()
        if self.schedule.collects(self.epoch) and self.dist.is_main:
            report = self.train_collector.collect(
                num_steps=self.schedule.steps_to_collect(self.num_env_steps)
            )
            self.num_env_steps += report.num_steps
            metrics |= report.metrics(prefix="collect/")
        metrics["env_steps"] = self.num_env_steps
        if self.cfg.training.should:
            metrics |= self._train_components()
        if self.dist.is_main and self.cfg.evaluation.should and self.epoch % self.cfg.evaluation.every == 0:
            seed = self.seed + TEST_SEED_OFFSET + self.epoch
            tested = self._evaluate(self.cfg.collection.test.num_episodes, seed)
            self._last_evaluation = (self.epoch, tested)
            metrics |= tested
        digests = check_in_sync(self.dist, self.agent.state_dict(), self.epoch)
        if digests is not None:
            metrics["dist/weight_digests"] = digests  # one per rank, all equal
        self._save_checkpoint()
        metrics["time/epoch_s"] = time.perf_counter() - start
        if self.epoch > 1:  # the first epoch is longer (more updates)
            self._recent_epoch_s = [*self._recent_epoch_s[-9:], metrics["time/epoch_s"]]
        self.outputs.log_metrics(metrics, step=self.epoch)
        log.info(self._summary_line(metrics))
        self.dist.barrier()

    def _train_components(self) -> dict[str, Any]:
        if self.dist.is_distributed and not self.static:  # rank 0's episodes as they are now, for every rank
            lengths = self.dist.broadcast_object(
                self.train_dataset.lengths.tolist() if self.dist.is_main else None
            )
            if not self.dist.is_main:
                self.train_dataset.follow_index(lengths)
        metrics: dict[str, Any] = {}
        for name, comp in self.components.items():
            if self.model_free and name != "actor_critic":
                continue  # model-free: the world model is not trained
            steps = component_steps(getattr(self.cfg, name).training, self.epoch)
            adapt = self.threads.adapt if self.threads is not None else None
            metrics |= train_component(comp, steps, self.show_progress, between_updates=adapt)
        return metrics

    def _evaluate(self, num_episodes: int, seed: int, prefix: str = "test") -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if num_episodes > 0 and not self.static:  # as published: no test episodes in a static-dataset run
            self.test_dataset.clear()
            report = self.test_collector.collect(num_episodes=num_episodes, seed=seed)
            metrics |= report.metrics(prefix=f"{prefix}/")
            metrics[f"{prefix}/returns"] = report.returns[:num_episodes]
            metrics[f"{prefix}/lengths"] = report.lengths[:num_episodes]
        if not self.model_free and self.test_dataset.num_episodes > 0:
            metrics |= run_test_losses(
                self.cfg, self.components, self.test_dataset, self.device, self.full_res_test
            )
        return metrics

    def _final_evaluation(self) -> dict[str, Any]:
        if not self.dist.is_main:  # rank 0 evaluates alone
            return {}
        if not self.outputs.has_agent_version(self.epoch):  # the agent the final episodes evaluate is kept
            self.outputs.save_agent_version(self.epoch, self.agent, self.cfg.checkpointing.num_to_keep)
        n = 0 if self.static else self.cfg.collection.test.num_final_episodes
        metrics, logged = {}, False  # logged: metrics.jsonl holds them already (the last epoch's test losses)
        if n > 0:
            metrics = self._evaluate(n, self.seed + FINAL_EVAL_SEED_OFFSET, prefix="final")
        elif self.static and self.cfg.evaluation.should:  # a world model's score: its final test losses
            done_at, tested = self._last_evaluation  # the last epoch's, when it evaluated
            logged = done_at == self.epoch
            metrics = tested if logged else self._evaluate(0, 0)
        if not logged:
            self.outputs.log_metrics(metrics, step=self.epoch + 1)
        log.info(final_summary(n, self.epoch, metrics))
        self.outputs.finish(metrics)
        return metrics

    # ---------------------------------------------------------------- progress

    def epochs_left(self) -> int:
        """Epochs still to run (the collecting ones, then the final ones); 0 before the initial collection."""
        return max(0, self.schedule.num_epochs - self.epoch) if self.schedule.started else 0

    def _summary_line(self, m: dict[str, Any]) -> str:
        return epoch_summary(
            self.epoch, self.num_env_steps, m, self.components, self.epochs_left(), self._recent_epoch_s
        )

    # ---------------------------------------------------------------- run state

    def _save_checkpoint(self) -> None:
        own = {  # what is this rank's own: its random streams, its imagination
            "rng": capture_rng_state(self.generators),
            "rollout": self.rollout.state_dict() if self.rollout is not None else None,
        }
        ranks = gather_rank_states(self.dist, own)
        if not self.dist.is_main:
            return
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "num_epochs_collect": self.schedule.num_epochs_collect,
            "num_env_steps": self.num_env_steps,
            "seed": self.seed,
            "agent": self.agent.state_dict(),
            "components": {k: c.state_dict() for k, c in self.components.items()},
            "train_collector": None if self.train_collector is None else self.train_collector.state_dict(),
            "rollout": own["rollout"],
            "datasets": {
                "train": self.train_dataset.lengths.tolist(),
                "test": self.test_dataset.lengths.tolist(),
            },
            "rng": own["rng"],
        }
        if ranks is not None:  # a multi-process run: every rank's own state (rank 0's is also above)
            state["ranks"] = ranks
        self.outputs.save_state(state)
        every = self.cfg.checkpointing.save_agent_every
        if self.epoch > 0 and self.epoch % every == 0:
            self.outputs.save_agent_version(self.epoch, self.agent, self.cfg.checkpointing.num_to_keep)

    def _load_state(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.schedule.num_epochs_collect = state["num_epochs_collect"]
        self.num_env_steps = state["num_env_steps"]
        self.agent.load_state_dict(state["agent"])
        for k, c in self.components.items():
            c.load_state_dict(state["components"][k])
        if not self.static and self.dist.is_main:  # a static dataset is read-only and never changes
            restore_datasets(self.train_dataset, self.test_dataset, state["datasets"])
        if self.train_collector is not None:
            self.train_collector.load_state_dict(state["train_collector"])
        own = own_state(state, self.dist)
        if own is None:
            log.warning(
                "rank %d: %s was saved by fewer processes: this rank's random streams start afresh from seed %d",
                self.dist.rank,
                self.run_dir.state_file,
                self.rank_seed,
            )
        else:
            if self.rollout is not None and own.get("rollout") is not None:
                self.rollout.load_state_dict(own["rollout"])
            restore_rng_state(own["rng"], self.generators)
        log.info(
            "resumed %s at the end of %s (%d env steps)",
            self.run_dir.root,
            describe(state),
            self.num_env_steps,
        )
