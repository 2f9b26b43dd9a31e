"""The DIAMOND training loop: collect, train the world model, train the actor-critic in imagination, evaluate.

The schedule is the published trainer's (see `diamond_wm.training.schedule`): an initial collection before
epoch 1 fixes the number of collecting epochs; each of them collects `steps_per_epoch` steps, then trains, then
evaluates every `evaluation.every` epochs; `num_final_epochs` epochs train without collecting; at the end
`num_final_episodes` test episodes whose mean return is the run's score. A static-dataset run or a model-free
run (`training.model_free`: the actor-critic alone learns, on real environments it steps itself) has no
collection: it is its `num_final_epochs` epochs, and only the model-free one plays test episodes.

The run's parts come from `training.build`, its episodes from `training.data_source` (a static dataset, the
real game, its test episodes alone in model-free mode, or rank 0's episodes on the other ranks); what it writes
goes through `training.outputs`; its state is the versioned dict of `training.run_state`, saved (atomically)
after the initial collection ("epoch 0", also saved by a run that has none) and at the end of each epoch, so an
interrupted run resumes from its last checkpoint. A run interrupted before its first checkpoint starts over:
the episodes it had collected are discarded.

Launched by torchrun (`diamond_wm.runtime.distributed`), every process runs this loop on its own device: rank 0
alone collects, evaluates and writes; every rank trains every part through DistributedDataParallel on its share of
the episodes (`diamond_wm.training.ranks` says what is shared); a barrier ends every epoch.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.models.agent import Agent
from diamond_wm.runtime import distributed
from diamond_wm.runtime.compile import CompileWatch, check_cuda_graphs, compile_for_training
from diamond_wm.runtime.distributed import DistContext
from diamond_wm.runtime.precision import apply_tf32
from diamond_wm.runtime.seeding import seed_everything
from diamond_wm.runtime.threads import cpu_threads
from diamond_wm.training import build
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.data_source import data_source
from diamond_wm.training.evaluation import run_test_losses, warm_up_test_losses
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
)
from diamond_wm.training.schedule import EpochSchedule, component_steps
from diamond_wm.training.summary import epoch_summary, final_summary

log = logging.getLogger(__name__)

__all__ = ["FINAL_EVAL_SEED_OFFSET", "TEST_SEED_OFFSET", "Trainer"]


class Trainer:
    """Runs (or resumes) one training run in `run_dir` with the composed configuration `cfg`.

    Where the episodes come from (a static dataset, rank 0's collection, rank 0's episodes on another rank) is
    `source` (`training.data_source`), chosen once; what the run writes goes through `outputs` (rank 0 only)."""

    def __init__(self, cfg: TrainerConfig, run_dir: str | Path, show_progress: bool = True) -> None:
        self.cfg = cfg
        self.dist = dist = distributed.current()
        self.source = data_source(cfg, dist)  # a bad static dataset fails here, before anything is written
        self.device = process_device(cfg.common.devices, dist)
        if cfg.training.cuda_graphs:
            check_cuda_graphs(self.device)  # before the run folder gets anything
        self.run_dir = RunDir(Path(run_dir))
        self.outputs = RunOutputs(self.run_dir, enabled=dist.is_main)  # only rank 0 writes
        self.outputs.start_log()
        self.show_progress = show_progress and dist.is_main
        self.threads = cpu_threads(self.device, compiles(cfg))
        apply_tf32(cfg.training.tf32, self.device)
        state = (
            read_state(self.run_dir.state_file, cfg.collection.train)
            if self.run_dir.state_file.exists()
            else None
        )
        self._seed_everything(state)
        self.model_free = cfg.training.model_free
        action_spec = self.source.open(self.device)
        self.agent = _build_agent(cfg, action_spec, self.device, resuming=state is not None)
        # The run folder gets a configuration only now: a bad static dataset or initialization checkpoint failed
        # above, leaving nothing that a later `--resume` would pick up.
        self.outputs.create(cfg, write_config=state is None, action_spec=action_spec)
        self.generators = make_generators(self.rank_seed)
        self.source.attach(
            self.run_dir, state is None, action_spec, self.agent.actor_critic, self.generators, self.seed, show_progress
        )  # fmt: skip
        self.rl_env, self.rollout, self.components = _build_learning(self, dist)
        self.compile_watch = CompileWatch() if compiles(cfg) else None
        col = cfg.collection.train
        self.schedule = EpochSchedule(col.steps_per_epoch, col.num_steps_total, cfg.training.num_final_epochs)
        self.epoch = self.num_env_steps = 0
        self._recent_epoch_s: list[float] = []
        self._last_evaluation: tuple[int, dict[str, Any]] = (-1, {})  # its epoch and metrics
        if state is not None:
            self._load_state(state)
        self.outputs.open_metrics(cfg)
        dist.barrier()  # every rank has read the run state before rank 0 writes the next one

    def _seed_everything(self, state: Optional[dict[str, Any]]) -> None:
        """The run's seed (`seed`: the saved one on resume, else `common.seed`, else drawn, and written back to
        `common.seed`) and this rank's (`rank_seed`), which seeds every global random stream."""
        seed = shared_seed(state["seed"] if state is not None else self.cfg.common.seed, self.dist)
        self.rank_seed = seed_everything(rank_seed(seed, self.dist))
        self.seed = self.cfg.common.seed = (
            self.rank_seed - self.dist.rank
        )  # the seed drawn, when none was given

    @property
    def train_dataset(self) -> EpisodeDataset:
        return self.source.train_dataset

    @property
    def test_dataset(self) -> EpisodeDataset:
        return self.source.test_dataset

    @property
    def train_env(self) -> Any:
        """The real train environment (None where this process plays no game)."""
        return self.source.train_env

    @property
    def test_env(self) -> Any:
        return self.source.test_env

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
        self.source.close()
        if self.rl_env is not None:
            self.rl_env.close()
        self.outputs.close()

    def _start(self) -> None:
        """Before epoch 1: the initial collection, which fixes the number of collecting epochs; then the
        "epoch 0" checkpoint, so that an interruption later in epoch 1 does not repeat the collection."""
        steps, metrics = self.source.initial_collection(self.schedule)  # rank 0's, on every rank
        self.num_env_steps += steps
        self._save_checkpoint()
        if metrics is not None:
            self.outputs.log_metrics({"epoch": 0, "env_steps": self.num_env_steps, **metrics}, step=0)

    def _run_epoch(self) -> None:
        start = time.perf_counter()
        self.epoch += 1
        metrics: dict[str, Any] = {"epoch": self.epoch}
        if self.threads is not None:
            self.threads.adapt()
        report = None
        if self.schedule.collects(self.epoch):
            report = self.source.collect(self.schedule.steps_to_collect(self.num_env_steps))
        if report is not None:
            self.num_env_steps += report.num_steps
            metrics |= report.metrics(prefix="collect/")
        metrics["env_steps"] = self.num_env_steps
        if self.cfg.training.should:
            metrics |= self._train_components()
        ev = self.cfg.evaluation
        if self.source.evaluates and ev.should and self.epoch % ev.every == 0:
            seed = self.seed + TEST_SEED_OFFSET + self.epoch
            tested = self._evaluate(self.cfg.collection.test.num_episodes, seed)
            self._last_evaluation = (self.epoch, tested)
            metrics |= tested
        elif self.compile_watch is not None and self.compile_watch.graphs is None and not self.model_free:
            # the first epoch of a compiled run here: its test losses' graphs now, not at the first evaluation
            warm_up_test_losses(self.cfg, self.components, self.source, self.device)
        digests = check_in_sync(self.dist, self.agent.state_dict(), self.epoch)
        if digests is not None:
            metrics["dist/weight_digests"] = digests  # one per rank, all equal
        self._save_checkpoint()
        if self.compile_watch is not None:
            self.compile_watch.epoch_done(self.epoch)
        metrics["time/epoch_s"] = time.perf_counter() - start
        if self.epoch > 1:  # the first epoch is longer (more updates)
            self._recent_epoch_s = [*self._recent_epoch_s[-9:], metrics["time/epoch_s"]]
        self.outputs.log_metrics(metrics, step=self.epoch)
        log.info(self._summary_line(metrics))
        self.dist.barrier()

    def _train_components(self) -> dict[str, Any]:
        self.source.share_index()  # rank 0's episodes as they are now, for every rank
        metrics: dict[str, Any] = {}
        for name, comp in self.components.items():
            if self.model_free and name != "actor_critic":
                continue  # model-free: the world model is not trained
            steps = component_steps(getattr(self.cfg, name).training, self.epoch)
            adapt = self.threads.adapt if self.threads is not None else None
            metrics |= train_component(comp, steps, self.show_progress, between_updates=adapt)
        return metrics

    def _evaluate(self, num_episodes: int, seed: int, prefix: str = "test") -> dict[str, Any]:
        # Test episodes (none from a static dataset, as published), then the world model's test losses.
        metrics = self.source.test_episodes(num_episodes, seed, prefix)
        if not self.model_free and self.test_dataset.num_episodes > 0:
            metrics |= run_test_losses(
                self.cfg,
                self.components,
                self.test_dataset,
                self.device,
                self.source.full_res_test,
                full_batches=compiles(self.cfg),
                max_batches=self.cfg.evaluation.max_test_batches,
            )
        return metrics

    def _final_evaluation(self) -> dict[str, Any]:
        if not self.source.evaluates:  # rank 0 evaluates alone
            return {}
        if not self.outputs.has_agent_version(self.epoch):  # the agent the final episodes evaluate is kept
            self.outputs.save_agent_version(self.epoch, self.agent, self.cfg.checkpointing.num_to_keep)
        n = self.cfg.collection.test.num_final_episodes if self.source.plays else 0
        metrics, logged = {}, False  # logged: metrics.jsonl holds them already (the last epoch's test losses)
        if n > 0:
            metrics = self._evaluate(n, self.seed + FINAL_EVAL_SEED_OFFSET, prefix="final")
        elif not self.source.plays and self.cfg.evaluation.should:
            # a world model's score: its final test losses
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
        own = {  # what is this rank's own: its random streams, its imagination, its objectives' counts
            "rng": capture_rng_state(self.generators, self.device),
            "rollout": self.rollout.state_dict() if self.rollout is not None else None,
            "objectives": {k: c.objective_state() for k, c in self.components.items()},
        }
        ranks = gather_rank_states(self.dist, own)
        if not self.outputs.enabled:  # rank 0 writes the run state
            return
        source = self.source.state_dict()
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "num_epochs_collect": self.schedule.num_epochs_collect,
            "num_env_steps": self.num_env_steps,
            "seed": self.seed,
            "agent": self.agent.state_dict(),
            "components": {k: c.state_dict() for k, c in self.components.items()},
            "train_collector": source["train_collector"],
            "rollout": own["rollout"],
            "datasets": source["datasets"],
            "rng": own["rng"],
            "numerics": self._numerics(),
        }
        if ranks is not None:  # a multi-process run: every rank's own state (rank 0's is also above)
            state["ranks"] = ranks
        self.outputs.save_state(state)
        every = self.cfg.checkpointing.save_agent_every
        if self.epoch > 0 and self.epoch % every == 0:
            self.outputs.save_agent_version(self.epoch, self.agent, self.cfg.checkpointing.num_to_keep)

    def _numerics(self) -> dict[str, Any]:
        """The settings that change the run's arithmetic but not its checkpoints (saved to tell a resume)."""
        t = self.cfg.training
        return {"precision": t.precision, "compile": compiles(self.cfg), "tf32": t.tf32}

    def _load_state(self, state: dict[str, Any]) -> None:
        saved = {"precision": "fp32", "tf32": False} | (state.get("numerics") or {})
        saved.setdefault("compile", bool(saved.get("compile_wm", False)))  # what compiled the run's networks
        changed = {k: (saved.get(k), v) for k, v in self._numerics().items() if saved.get(k) != v}
        if changed:
            log.warning(
                "resuming under other numerics than the run was saved with: %s",
                ", ".join(f"training.{k} {a} -> {b}" for k, (a, b) in changed.items()),
            )
        self.epoch = state["epoch"]
        self.schedule.num_epochs_collect = state["num_epochs_collect"]
        self.num_env_steps = state["num_env_steps"]
        self.agent.load_state_dict(state["agent"])
        for k, c in self.components.items():
            c.load_state_dict(state["components"][k])
        self.source.load_state_dict(state)  # the collected datasets rolled back (a static one never changes)
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
            restore_rng_state(own["rng"], self.generators, self.device)
            for k, objective in (own.get("objectives") or {}).items():  # absent in states saved before
                if objective is not None and k in self.components:
                    self.components[k].load_objective_state(objective)
        log.info(
            "resumed %s at the end of %s (%d env steps)",
            self.run_dir.root,
            describe(state),
            self.num_env_steps,
        )


# ---------------------------------------------------------------- builders


def compiles(cfg: TrainerConfig) -> bool:
    """Whether the run compiles its networks: `training.compile`, or `training.compile_wm` (read as it)."""
    return bool(cfg.training.compile or cfg.training.compile_wm)


def _build_agent(
    cfg: TrainerConfig, action_spec: Optional[ActionSpec], device: torch.device, resuming: bool
) -> Agent:
    """The agent on `device`, initialized from `initialization.path_to_ckpt` (a new run only), its networks
    compiled in place with `training.compile` (checkpoints keep their keys)."""
    agent = Agent(cfg.agent, action_spec).to(device)
    if not resuming and cfg.initialization.path_to_ckpt is not None:
        build.initialize_agent(agent, cfg)
    if cfg.training.compile_wm and not cfg.training.compile:
        log.info("training.compile_wm=true is read as training.compile=true: every network is compiled")
    if compiles(cfg):
        compile_for_training(agent, cuda_graphs=cfg.training.cuda_graphs)
    return agent


def _build_learning(trainer: Trainer, dist: DistContext) -> tuple[Any, Any, dict[str, ComponentState]]:
    """(environment the actor-critic learns in, its rollout, the components): segment samplers over this rank's
    share of `trainer`'s train episodes, each component wrapped for DistributedDataParallel (same order on every
    rank)."""
    cfg, agent, dataset, device = trainer.cfg, trainer.agent, trainer.source.train_dataset, trainer.device
    shard = (dist.rank, dist.world_size)
    samplers = build.build_segment_samplers(cfg, dataset, trainer.generators, agent.parts, shard)
    rl_env, rollout = build.build_rollout(
        cfg, agent, dataset, device, trainer.rank_seed, trainer.generators["wm_env"], shard
    )
    batches = build.batch_sources(cfg, samplers, device, trainer.source.full_res_train)
    components = build.build_components(cfg, agent, rollout, batches)
    for comp in components.values():
        comp.wrap_ddp(dist)
    return rl_env, rollout, components
