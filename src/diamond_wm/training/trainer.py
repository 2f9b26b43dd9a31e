"""The DIAMOND training loop: collect, train the world model, train the actor-critic in imagination, evaluate.

The schedule is the published trainer's (see `diamond_wm.training.schedule`): an initial collection before
epoch 1 fixes the number of collecting epochs; each of them collects `steps_per_epoch` steps, then trains, then
evaluates every `evaluation.every` epochs; `num_final_epochs` epochs train without collecting; at the end
`num_final_episodes` test episodes whose mean return is the run's score.

Every stateful piece is saved in `checkpoints/state.pt` (atomically) after the initial collection ("epoch 0")
and at the end of each epoch, so an interrupted run resumes from its last checkpoint. A run interrupted before
its first checkpoint starts over: the episodes it had collected are discarded.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import torch
from omegaconf import OmegaConf

from diamond_wm.config.derived import denoiser_seq_length, rew_end_seq_length
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.data.static import resolve_static_dataset
from diamond_wm.envs.factory import make_env
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import CheckpointMismatchError, load_agent_state, load_into, save_agent
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.runtime.atomic import atomic_torch_save, atomic_write_text
from diamond_wm.runtime.compile import compile_world_model
from diamond_wm.runtime.devices import resolve_devices
from diamond_wm.runtime.logs import add_file_handler
from diamond_wm.runtime.memory import tune_malloc
from diamond_wm.runtime.seeding import seed_everything
from diamond_wm.training.collector import CollectionReport, Collector
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.evaluation import world_model_test_losses
from diamond_wm.training.metrics import MetricsLogger
from diamond_wm.training.objectives import ActorCriticObjective, DenoiserObjective, RewEndObjective
from diamond_wm.training.optim import configure_optimizer
from diamond_wm.training.rng import capture_rng_state, restore_rng_state
from diamond_wm.training.rollout import ActorCriticRollout
from diamond_wm.training.run_dir import RunDir
from diamond_wm.training.schedule import EpochSchedule, component_steps, initial_collection

log = logging.getLogger(__name__)

STATE_FORMAT = "diamond-wm/training-state"
STATE_VERSION = 2  # 2: the published epoch schedule (`num_epochs_collect`); version 1 states are converted
TEST_SEED_OFFSET = 100_000  # test episodes of epoch e start from seed + TEST_SEED_OFFSET + e
FINAL_EVAL_SEED_OFFSET = 200_000  # the final test episodes start from seed + FINAL_EVAL_SEED_OFFSET


class Trainer:
    """Runs (or resumes) one training run in `run_dir` with the composed configuration `cfg`."""

    def __init__(self, cfg: TrainerConfig, run_dir: str | Path, show_progress: bool = True) -> None:
        self.cfg = cfg
        self.static = cfg.static_dataset.path is not None
        # A bad static dataset fails here, before anything is written.
        static_paths = resolve_static_dataset(cfg.static_dataset.path) if self.static else None
        self.run_dir = RunDir(Path(run_dir))
        self.run_dir.root.mkdir(parents=True, exist_ok=True)
        self._log_handler = add_file_handler(self.run_dir.log_file)
        self.show_progress = show_progress
        self.device = resolve_devices(cfg.common.devices)[0]
        if self.device.type == "cpu":
            tune_malloc()  # keep large activations in the heap: a ~2.5x faster training step on CPU
        state = self._read_state() if self.run_dir.state_file.exists() else None
        self.seed = seed_everything(state["seed"] if state is not None else cfg.common.seed)
        cfg.common.seed = self.seed
        self.model_free = cfg.training.model_free

        # Environments. Sub-env i of the train env is seeded seed + i; test episodes get their own seeds.
        self.test_env = make_env(cfg.env.test, cfg.env.type, cfg.collection.test.num_envs, self.device)
        self.train_env = None
        if not self.static:
            self.train_env = make_env(cfg.env.train, cfg.env.type, cfg.collection.train.num_envs, self.device)
        num_actions = self.test_env.num_actions

        self.agent = Agent(cfg.agent, num_actions).to(self.device)
        if state is None and cfg.initialization.path_to_ckpt is not None:
            self._initialize_from(cfg.initialization.path_to_ckpt)
        if cfg.training.compile_wm:
            compile_world_model(self.agent)  # in place: checkpoints keep their keys

        # Datasets. A bad static dataset or initialization checkpoint fails above, before the run folder holds a
        # configuration: nothing is left that a later `--resume` would pick up.
        self.run_dir.create()
        if state is None:
            atomic_write_text(self.run_dir.config_file, OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        if static_paths is not None:
            if static_paths.notice:
                log.info("%s", static_paths.notice)
            self.train_dataset = EpisodeDataset(static_paths.train, name="static train", read_only=True)
            self.test_dataset = (
                EpisodeDataset(static_paths.test, name="static test", read_only=True)
                if static_paths.test is not None
                else EpisodeDataset(None, name="no test dataset")
            )
        else:
            self.train_dataset = EpisodeDataset(self.run_dir.train_dataset, name="train")
            self.test_dataset = EpisodeDataset(self.run_dir.test_dataset, name="test")
            if state is None:
                self._discard_interrupted_start()

        self.generators = {
            name: torch.Generator().manual_seed(self.seed + i)
            for i, name in enumerate(
                ("denoiser", "rew_end_model", "wm_env", "train_collector", "test_collector")
            )
        }
        ignore = cfg.static_dataset.ignore_sample_weights
        self.denoiser_sampler = SegmentSampler(
            self.train_dataset,
            cfg.denoiser.training.batch_size,
            denoiser_seq_length(cfg),
            cfg.denoiser.training.sample_weights,
            ignore_weights_if_static=ignore,
            generator=self.generators["denoiser"],
        )
        self.rew_end_sampler = SegmentSampler(
            self.train_dataset,
            cfg.rew_end_model.training.batch_size,
            rew_end_seq_length(cfg),
            cfg.rew_end_model.training.sample_weights,
            can_sample_beyond_end=True,
            ignore_weights_if_static=ignore,
            generator=self.generators["rew_end_model"],
        )

        # Where the actor-critic learns: imagination, or real environments in model-free mode.
        ac_batch = cfg.actor_critic.training.batch_size
        horizon = cfg.world_model_env.horizon
        if self.model_free:
            self.rl_env = make_env(cfg.env.train, cfg.env.type, ac_batch, self.device)
            self.rl_env.reset(seed=self.seed + 10_000)
            self.rollout = ActorCriticRollout(
                self.rl_env, self.agent.actor_critic, horizon, reset_every_rollout=False
            )
        else:
            self.rl_env = WorldModelEnv(
                DiffusionSampler(self.agent.denoiser, cfg.world_model_env.diffusion_sampler),
                self.agent.rew_end_model,
                self._initial_conditions,
                ac_batch,
                horizon,
            )
            self.rl_env.generator = self.generators["wm_env"]
            self.rollout = ActorCriticRollout(
                self.rl_env, self.agent.actor_critic, horizon, reset_every_rollout=True
            )

        # Components: the part each trains, its objective and batches, its optimizer and LR warm-up.
        dev = self.device
        parts = {
            "denoiser": (
                self.agent.denoiser,
                DenoiserObjective(self.agent.denoiser, cfg.denoiser.sigma_distribution),
                lambda: self.denoiser_sampler.sample().to(dev),
            ),
            "rew_end_model": (
                self.agent.rew_end_model,
                RewEndObjective(self.agent.rew_end_model),
                lambda: self.rew_end_sampler.sample().to(dev),
            ),
            "actor_critic": (
                self.agent.actor_critic,
                ActorCriticObjective(
                    self.agent.actor_critic, self.rollout, cfg.actor_critic.actor_critic_loss
                ),
                lambda: None,  # the rollout draws its own starts
            ),
        }
        self.components: dict[str, ComponentState] = {}
        for name, (model, objective, batches) in parts.items():
            t = getattr(cfg, name).training
            opt, sched = configure_optimizer(model, getattr(cfg, name).optimizer, t.lr_warmup_steps)
            self.components[name] = ComponentState(
                name, model, objective, batches, opt, sched, t.grad_acc_steps, t.max_grad_norm
            )

        col = cfg.collection
        self.train_collector = None
        if self.train_env is not None:
            self.train_collector = Collector(
                self.train_env,
                self.train_dataset,
                self.agent.actor_critic,
                epsilon=col.train.epsilon,
                reset_every_collect=False,
                show_progress=show_progress,
                seed=self.seed,
                generator=self.generators["train_collector"],
            )
        self.test_collector = Collector(
            self.test_env,
            self.test_dataset,
            self.agent.actor_critic,
            epsilon=col.test.epsilon,
            reset_every_collect=True,
            show_progress=show_progress,
            generator=self.generators["test_collector"],
        )

        col = cfg.collection.train
        self.schedule = EpochSchedule(col.steps_per_epoch, col.num_steps_total, cfg.training.num_final_epochs)
        self.epoch = 0
        self._recent_epoch_s: list[float] = []
        self.num_env_steps = 0
        if state is not None:
            self._load_state(state)
        self.metrics = MetricsLogger(
            self.run_dir.metrics_file,
            self.run_dir.tensorboard,
            cfg.wandb,
            run_config=OmegaConf.to_container(OmegaConf.structured(cfg)),
            run_id=self.run_dir.root.name,
        )

    # ---------------------------------------------------------------- set-up helpers

    def _initial_conditions(
        self, count: int, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Real contexts (frames and actions) from the training dataset, to start imagined rollouts."""
        t = self.cfg.actor_critic.training
        sampler = SegmentSampler(
            self.train_dataset,
            count,
            self.cfg.agent.denoiser.inner_model.num_steps_conditioning,
            t.sample_weights,
            ignore_weights_if_static=self.cfg.static_dataset.ignore_sample_weights,
            generator=generator,
        )
        batch = sampler.sample()
        return batch.obs.to(self.device), batch.act.to(self.device)

    def _initialize_from(self, path: str) -> None:
        init = self.cfg.initialization
        parts = [
            p
            for p, on in (
                ("denoiser", init.load_denoiser),
                ("rew_end_model", init.load_rew_end_model),
                ("actor_critic", init.load_actor_critic),
            )
            if on
        ]
        if Path(path).is_dir():  # a run folder (ours or the published code's): its newest agent version
            newest = RunDir(Path(path)).newest_agent_version()
            if newest is None:
                raise ValueError(
                    f"initialization.path_to_ckpt={path}: a folder without checkpoints/agent_versions/"
                    "agent_epoch_XXXXX.pt (give a run folder or an agent checkpoint file)"
                )
            log.info("initialization.path_to_ckpt=%s: its newest agent version, %s", path, newest.name)
            path = str(newest)
        state_dict, _, num_actions = load_agent_state(path)  # read-only, weights_only=True
        if num_actions != self.agent.num_actions:
            raise ValueError(
                f"initialization.path_to_ckpt={path} has {num_actions} actions but {self.cfg.env.test.id} has "
                f"{self.agent.num_actions}: a checkpoint of another game?"
            )
        try:
            load_into(self.agent, state_dict, parts=parts)
        except CheckpointMismatchError as e:
            source = f"initialization.path_to_ckpt={path}"
            raise CheckpointMismatchError(
                e.missing, e.unexpected, e.shape_mismatches, source=source
            ) from None
        log.info("initialized %s from %s", ", ".join(parts) or "nothing", path)

    # ---------------------------------------------------------------- schedule

    def _component_steps(self, name: str) -> int:
        return component_steps(getattr(self.cfg, name).training, self.epoch)

    def _discard_interrupted_start(self) -> None:
        """Episodes in a run folder without a checkpoint come from a start that was interrupted during its
        initial collection or first epoch: they are dropped, so that the run starts over as if new."""
        dropped = [(d.num_episodes, d.num_steps) for d in (self.train_dataset, self.test_dataset)]
        if not any(n for n, _ in dropped):
            return
        for d in (self.train_dataset, self.test_dataset):
            d.clear()
        log.info(
            "%s has no checkpoint yet: discarded the %d train episodes (%d steps) and %d test episodes of an "
            "interrupted start; starting over",
            self.run_dir.root,
            *dropped[0],
            dropped[1][0],
        )

    # ---------------------------------------------------------------- epoch parts

    def _start(self) -> None:
        """Before epoch 1: the initial collection, which fixes the number of collecting epochs; then the
        "epoch 0" checkpoint, so that an interruption later in epoch 1 does not repeat the collection."""
        metrics: dict[str, Any] = {}
        if self.train_collector is None:
            self.schedule.no_collection()
        else:
            col = self.cfg.collection.train
            reports = initial_collection(
                lambda n: self.train_collector.collect(num_steps=n),
                lambda: self.train_dataset.counts_rew,
                lambda: self.train_dataset.num_steps,
                col.first_epoch,
                col.steps_per_epoch,
            )
            report = _merge_reports(reports)
            self.num_env_steps += report.num_steps
            self.schedule.set_collected(self.num_env_steps)
            metrics = {"epoch": 0, "env_steps": self.num_env_steps, **report.metrics(prefix="collect/")}
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
        if metrics:
            self.metrics.log(metrics, step=0)

    def _collect(self) -> dict[str, Any]:
        report = self.train_collector.collect(num_steps=self.schedule.steps_to_collect(self.num_env_steps))
        self.num_env_steps += report.num_steps
        return report.metrics(prefix="collect/")

    def _train_components(self) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        for name, comp in self.components.items():
            if self.model_free and name != "actor_critic":
                continue  # model-free: the world model is not trained
            metrics |= train_component(comp, self._component_steps(name), self.show_progress)
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
            cfg = self.cfg
            metrics |= world_model_test_losses(
                {
                    "denoiser": (self.components["denoiser"].objective, denoiser_seq_length(cfg)),
                    "rew_end_model": (self.components["rew_end_model"].objective, rew_end_seq_length(cfg)),
                },
                self.test_dataset,
                cfg.denoiser.training.batch_size,
                self.device,
            )
        return metrics

    # ---------------------------------------------------------------- main loop

    def run(self) -> dict[str, Any]:
        """Train until the schedule is done, then run the final evaluation. Returns the final metrics."""
        if self.run_dir.is_finished:
            log.info("run %s is already finished: nothing to do", self.run_dir.root)
            self.close()
            marker = self.run_dir.finished_marker  # absent when only the published `.run_is_over` marks the end
            return json.loads(marker.read_text() or "{}") if marker.is_file() else {}
        try:
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
        self.metrics.close()
        for env in (self.train_env, self.test_env, self.rl_env):
            if env is not None:
                env.close()
        logging.getLogger().removeHandler(self._log_handler)
        self._log_handler.close()

    def _run_epoch(self) -> None:
        start = time.perf_counter()
        self.epoch += 1
        metrics: dict[str, Any] = {"epoch": self.epoch}
        if self.schedule.collects(self.epoch):
            metrics |= self._collect()
        metrics["env_steps"] = self.num_env_steps
        if self.cfg.training.should:
            metrics |= self._train_components()
        if self.cfg.evaluation.should and self.epoch % self.cfg.evaluation.every == 0:
            seed = self.seed + TEST_SEED_OFFSET + self.epoch
            metrics |= self._evaluate(self.cfg.collection.test.num_episodes, seed)
        self._save_checkpoint()
        metrics["time/epoch_s"] = time.perf_counter() - start
        if self.epoch > 1:  # the first epoch is longer (more updates)
            self._recent_epoch_s = [*self._recent_epoch_s[-9:], metrics["time/epoch_s"]]
        self.metrics.log(metrics, step=self.epoch)
        log.info(self._summary_line(metrics))

    def _summary_line(self, m: dict[str, Any]) -> str:
        parts = [f"epoch {self.epoch}", f"env steps {self.num_env_steps}"]
        for key, label in (
            ("collect/return_mean", "train return"),
            ("test/return_mean", "test return"),
            ("denoiser/loss_denoising", "denoiser"),
            ("rew_end_model/loss_total", "rew/end"),
            ("actor_critic/loss_total", "actor-critic"),
        ):
            if key in m:
                parts.append(f"{label} {m[key]:.4g}")
        times = [f"{n} {m[f'{n}/time_s']:.0f}s" for n in self.components if f"{n}/time_s" in m]
        if times:
            parts.append("time " + " ".join(times))
        parts.append(f"epoch {m.get('time/epoch_s', 0):.1f}s")
        left = self.epochs_left()
        if left and self._recent_epoch_s:
            eta = left * sum(self._recent_epoch_s) / len(self._recent_epoch_s)
            parts.append(f"{left} epoch{'s' if left > 1 else ''} left, ~{_format_duration(eta)}")
        return " | ".join(parts)

    def epochs_left(self) -> int:
        """Epochs still to run (the collecting ones, then the final ones); 0 before the initial collection."""
        return max(0, self.schedule.num_epochs - self.epoch) if self.schedule.started else 0

    def _final_evaluation(self) -> dict[str, Any]:
        final_agent = self.run_dir.agent_version_path(self.epoch)
        if not final_agent.exists():  # the agent that the final episodes evaluate is always kept
            save_agent(final_agent, self.agent)
            self.run_dir.prune_agent_versions(self.cfg.checkpointing.num_to_keep)
        n = 0 if self.static else self.cfg.collection.test.num_final_episodes
        metrics = self._evaluate(n, self.seed + FINAL_EVAL_SEED_OFFSET, prefix="final") if n > 0 else {}
        self.metrics.log(metrics, step=self.epoch + 1)
        score = metrics.get("final/return_mean")
        log.info(
            "run finished: mean return over %d test episodes %s",
            n,
            "n/a" if score is None else f"{score:.3f}",
        )
        atomic_write_text(self.run_dir.finished_marker, json.dumps(metrics, indent=2, default=float))
        return metrics

    # ---------------------------------------------------------------- checkpoints

    def _save_checkpoint(self) -> None:
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "epoch": self.epoch,
            "num_epochs_collect": self.schedule.num_epochs_collect,
            "num_env_steps": self.num_env_steps,
            "seed": self.seed,
            "agent": self.agent.state_dict(),
            "components": {k: c.state_dict() for k, c in self.components.items()},
            "train_collector": self.train_collector.state_dict()
            if self.train_collector is not None
            else None,
            "rollout": self.rollout.state_dict(),
            "datasets": {
                "train": self.train_dataset.lengths.tolist(),
                "test": self.test_dataset.lengths.tolist(),
            },
            "rng": capture_rng_state(self.generators),
        }
        atomic_torch_save(state, self.run_dir.state_file)
        if self.epoch > 0 and self.epoch % self.cfg.checkpointing.save_agent_every == 0:
            save_agent(self.run_dir.agent_version_path(self.epoch), self.agent)
            self.run_dir.prune_agent_versions(self.cfg.checkpointing.num_to_keep)

    def _read_state(self) -> dict[str, Any]:
        state = torch.load(self.run_dir.state_file, map_location="cpu", weights_only=True)
        if state.get("format") != STATE_FORMAT or state.get("version") not in (1, STATE_VERSION):
            raise ValueError(
                f"{self.run_dir.state_file}: not a diamond-wm training state of version {STATE_VERSION} "
                f"(format={state.get('format')!r}, version={state.get('version')!r})"
            )
        if (
            state["version"] == 1
        ):  # the earlier schedule: epoch 1 was the initial collection, then 1 epoch per
            col = self.cfg.collection.train  # `steps_per_epoch` steps until `num_steps_total`
            left = max(0, col.num_steps_total - state["num_env_steps"])
            collected_epochs = state["epoch"] - state["final_epochs_done"]
            state["num_epochs_collect"] = collected_epochs + -(-left // max(1, col.steps_per_epoch))
        return state

    def _load_state(self, state: dict[str, Any]) -> None:
        self.epoch = state["epoch"]
        self.schedule.num_epochs_collect = state["num_epochs_collect"]
        self.num_env_steps = state["num_env_steps"]
        self.agent.load_state_dict(state["agent"])
        for k, c in self.components.items():
            c.load_state_dict(state["components"][k])
        if not self.static:
            self.train_dataset.rollback(state["datasets"]["train"])
        self.test_dataset.rollback(state["datasets"]["test"])
        if self.train_collector is not None:
            self.train_collector.load_state_dict(state["train_collector"])
        self.rollout.load_state_dict(state["rollout"])
        restore_rng_state(state["rng"], self.generators)
        log.info(
            "resumed %s at the end of %s (%d env steps)",
            self.run_dir.root,
            f"epoch {self.epoch}" if self.epoch else "the initial collection",
            self.num_env_steps,
        )


def _format_duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


def _merge_reports(reports: list[CollectionReport]) -> CollectionReport:
    """One report for several consecutive `collect` calls."""
    last = reports[-1]
    return CollectionReport(
        num_steps=sum(r.num_steps for r in reports),
        returns=[x for r in reports for x in r.returns],
        lengths=[x for r in reports for x in r.lengths],
        episode_ids=[x for r in reports for x in r.episode_ids],
        dataset_num_steps=last.dataset_num_steps,
        counts_rew=last.counts_rew,
        counts_end=last.counts_end,
    )
