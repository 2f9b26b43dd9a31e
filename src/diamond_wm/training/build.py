"""Factories of a training run's parts, from its configuration: datasets, segment samplers, the environment the
actor-critic learns in (imagination or, model-free, the real game), the components and the agent's initialization.

The trainer assembles a run from these; the bench, the demo and play build the same parts the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from diamond_wm.config.actions import ActionSpec, action_mismatch, read_action_spec
from diamond_wm.config.derived import (
    actor_critic_burn_in_length,
    denoiser_seq_length,
    rew_end_seq_length,
    upsampler_seq_length,
)
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.action_specs import dataset_action_spec
from diamond_wm.data.contexts import segment_contexts
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.hdf5_frames import has_hdf5_files
from diamond_wm.data.hdf5_full_res import Hdf5FullResFrames
from diamond_wm.data.loader import SegmentLoader
from diamond_wm.data.sampling import SegmentSampler, rewarded_rows
from diamond_wm.data.static import StaticDatasetPaths, count_episodes, resolve_static_dataset
from diamond_wm.envs.factory import make_env
from diamond_wm.envs.world_model_env import InitialConditionSource, WorldModelEnv
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import CheckpointMismatchError, load_agent_state, load_into
from diamond_wm.models.world_model import world_model_of
from diamond_wm.runtime.precision import check_precision, warn_if_emulated
from diamond_wm.training.component import ComponentState
from diamond_wm.training.imagined_frames import imagined_frames
from diamond_wm.training.objectives import ActorCriticObjective, DenoiserObjective, RewEndObjective
from diamond_wm.training.optim import configure_optimizer
from diamond_wm.training.rollout import ActorCriticRollout
from diamond_wm.training.run_dir import RunDir

log = logging.getLogger(__name__)

MODEL_FREE_ENV_SEED_OFFSET = 10_000  # the model-free rollout environments start from seed + this


def build_datasets(
    run_dir: RunDir,
    static: Optional[StaticDatasetPaths],
    cache_in_ram: bool = True,
    action_spec: Optional[ActionSpec] = None,
) -> tuple[EpisodeDataset, EpisodeDataset]:
    """(train, test) datasets: the run folder's, collected with actions of `action_spec` (recorded with them), or a
    static dataset's (`build_static_datasets`). The training set keeps its episodes in RAM with `cache_in_ram`
    (`training.cache_in_ram`), else reads them from their files at each draw; the test set is always cached, as
    in the published trainer."""
    if static is not None:
        return build_static_datasets(static, cache_in_ram)
    return (
        EpisodeDataset(
            run_dir.train_dataset, name="train", cache_in_ram=cache_in_ram, action_spec=action_spec
        ),
        EpisodeDataset(run_dir.test_dataset, name="test", action_spec=action_spec),
    )


def follower_datasets(
    run_dir: RunDir, cache_in_ram: bool, action_spec: Optional[ActionSpec]
) -> tuple[EpisodeDataset, EpisodeDataset]:
    """(train, test) of a rank other than 0 in a multi-process run: a view of rank 0's train dataset in the run
    folder (its index comes from rank 0 before each training phase), and an empty test set (rank 0 evaluates)."""
    train = EpisodeDataset(
        run_dir.train_dataset,
        name="train (rank 0's)",
        cache_in_ram=cache_in_ram,
        action_spec=action_spec,
        follower=True,
    )
    return train, EpisodeDataset(None, name="test (rank 0 evaluates)")


def discard_interrupted_start(run_dir: RunDir, train: EpisodeDataset, test: EpisodeDataset) -> None:
    """Episodes in a run folder without a checkpoint come from a start that was interrupted during its initial
    collection or first epoch: they are dropped, so that the run starts over as if new."""
    dropped = [(d.num_episodes, d.num_steps) for d in (train, test)]
    if not any(n for n, _ in dropped):
        return
    for d in (train, test):
        d.clear()
    log.info(
        "%s has no checkpoint yet: discarded the %d train episodes (%d steps) and %d test episodes of an "
        "interrupted start; starting over",
        run_dir.root,
        *dropped[0],
        dropped[1][0],
    )


def build_static_datasets(
    static: StaticDatasetPaths, cache_in_ram: bool = True, quiet: bool = False
) -> tuple[EpisodeDataset, EpisodeDataset]:
    """A static dataset's (train, test), read-only; the test set may be absent (an empty dataset in RAM).
    `quiet`: not logged (a check before the run, which logs them)."""
    if static.notice and not quiet:
        log.info("%s", static.notice)
    kw = dict(read_only=True, quiet=quiet)
    train = EpisodeDataset(static.train, name="static train", cache_in_ram=cache_in_ram, **kw)
    if static.test is None:
        return train, EpisodeDataset(None, name="no test dataset")
    return train, EpisodeDataset(static.test, name="static test", **kw)


def full_res_datasets(
    path: str, train: EpisodeDataset, test: EpisodeDataset
) -> tuple[EpisodeDataset, Optional[EpisodeDataset]]:
    """`static_dataset.full_res_path`'s (train, test) datasets, read-only and not cached (full-resolution frames
    are large), checked against the low-resolution ones: the same episodes, of the same lengths.

    A folder of the original CS:GO `.hdf5` files (and no dataset) gives the frames of those files instead, found
    by each low-resolution episode's `info["original_file_id"]` (`Hdf5FullResFrames`)."""
    key = f"static_dataset.full_res_path={path}"
    root = Path(path).expanduser()
    if root.is_dir() and not (root / "train").is_dir() and count_episodes(root) == 0 and has_hdf5_files(root):
        return _hdf5_full_res(key, root, train, test)
    try:
        paths = resolve_static_dataset(path)
    except ValueError as e:
        raise ValueError(str(e).replace(f"static_dataset.path={path}", key)) from e
    full_train = EpisodeDataset(paths.train, name="full-res train", read_only=True, cache_in_ram=False)
    full_test = (
        EpisodeDataset(paths.test, name="full-res test", read_only=True, cache_in_ram=False)
        if paths.test is not None
        else None
    )
    for low, full in ((train, full_train), (test, full_test)):
        if full is None or low.num_episodes == 0:
            continue
        if not np.array_equal(low.lengths, full.lengths):
            raise ValueError(
                f"{key}: {full.directory} holds {full.num_episodes} episodes ({full.num_steps} steps), the "
                f"low-resolution {low.directory} {low.num_episodes} ({low.num_steps} steps): expected the same "
                "episodes at full resolution"
            )
    return full_train, full_test


def _hdf5_full_res(
    key: str, root: Path, train: EpisodeDataset, test: EpisodeDataset
) -> tuple[Hdf5FullResFrames, Optional[Hdf5FullResFrames]]:
    """The hdf5 frames of the train and test episodes, checked on each dataset's first episode (one line naming
    the episode or the file when they do not fit)."""
    sources = []
    for low in (train, test):
        if low.num_episodes == 0:
            sources.append(None)
            continue
        try:
            frames = Hdf5FullResFrames(root, low)
            frames.read_frames(0, 0, 1)  # the first episode's file is there, readable, of consistent frames
        except (ValueError, ImportError) as e:
            raise ValueError(f"{key}: {str(e).splitlines()[0]}") from e
        sources.append(frames)
    files = next(len(f.files) for f in sources if f is not None) if any(sources) else 0
    log.info("full-resolution frames read from the hdf5 files below %s (%d files)", root, files)
    return sources[0], sources[1]


def build_segment_samplers(
    cfg: TrainerConfig,
    dataset: EpisodeDataset,
    generators: dict[str, torch.Generator],
    parts: tuple[str, ...],
    shard: tuple[int, int] = (0, 1),
) -> dict[str, SegmentSampler]:
    """The samplers of the training segments of the denoiser, the upsampler and the reward/termination model,
    among `parts`; `shard` (rank, world size): a rank's share of the episodes (see `diamond_wm.data.sampling`).
    The reward/termination model's segments may run past an episode's end (padded), as published."""
    # part -> (its training settings, segment length)
    segments = {
        "denoiser": lambda: (cfg.denoiser.training, denoiser_seq_length(cfg)),
        "upsampler": lambda: (cfg.upsampler.training, upsampler_seq_length(cfg)),
        "rew_end_model": lambda: (cfg.rew_end_model.training, rew_end_seq_length(cfg)),
    }
    samplers = {}
    for name, settings in segments.items():
        if name not in parts:
            continue
        training, seq_length = settings()
        samplers[name] = SegmentSampler(
            dataset,
            training.batch_size,
            seq_length,
            training.sample_weights,
            can_sample_beyond_end=name == "rew_end_model",
            ignore_weights_if_static=cfg.static_dataset.ignore_sample_weights,
            generator=generators[name],
            shard=shard,
            rewarded_share=training.rewarded_share if name == "rew_end_model" else 0.0,
        )
    return samplers


def batch_sources(
    cfg: TrainerConfig,
    samplers: dict[str, SegmentSampler],
    device: torch.device,
    full_res: Optional[EpisodeDataset] = None,
) -> dict[str, Callable[[], Any]]:
    """The training batches of each sampled component: drawn and read in this process, or, with
    `training.num_workers_data_loaders` > 0, read from the episode files by DataLoader workers (`SegmentLoader`).
    The upsampler's batches carry the full-resolution frames of `full_res` (the same episodes)."""
    workers = cfg.training.num_workers_data_loaders
    sources: dict[str, Callable[[], Any]] = {}
    for name, s in samplers.items():
        full = full_res if name == "upsampler" else None
        if workers > 0:
            sources[name] = SegmentLoader(s, workers, device, full_res_dataset=full)
        else:
            sources[name] = lambda s=s, full=full: s.sample(device=device, full_res_dataset=full)
    return sources


def initial_conditions(
    cfg: TrainerConfig, dataset: EpisodeDataset, device: torch.device, shard: tuple[int, int] = (0, 1)
) -> InitialConditionSource:
    """Real contexts (frames and actions) from `dataset` (this rank's share of it), to start imagined rollouts."""
    return segment_contexts(
        dataset,
        actor_critic_burn_in_length(cfg),
        cfg.actor_critic.training.sample_weights,
        cfg.static_dataset.ignore_sample_weights,
        shard,
        device,
    )


def build_rollout(
    cfg: TrainerConfig,
    agent: Agent,
    dataset: EpisodeDataset,
    device: torch.device,
    seed: int,
    generator: torch.Generator,
    shard: tuple[int, int] = (0, 1),
) -> tuple[Any, ActorCriticRollout]:
    """(environment, rollout) where the actor-critic learns: imagination (from contexts of this rank's `shard` of
    the episodes), or real games in model-free mode; (None, None) for a world model without an actor-critic."""
    if agent.actor_critic is None:
        return None, None
    batch = cfg.actor_critic.training.batch_size
    steps = cfg.actor_critic.actor_critic_loss.backup_every  # imagined (or real) steps per update
    if cfg.training.model_free:
        env = make_env(cfg.env.train, cfg.env.type, batch, device)
        env.reset(seed=seed + MODEL_FREE_ENV_SEED_OFFSET)
        return env, ActorCriticRollout(env, agent.actor_critic, steps)
    # The world model's seed comes from this rank's imagination generator; each environment then draws from its
    # own generator (`WorldModelEnv`), which the rollout's state saves.
    seed = int(torch.randint(2**62, (1,), generator=generator).item())
    world_model = world_model_of(agent, cfg.world_model_env.diffusion_sampler, seed=seed)
    env = WorldModelEnv(
        world_model, initial_conditions(cfg, dataset, device, shard), batch, cfg.world_model_env.horizon
    )
    return env, ActorCriticRollout(env, agent.actor_critic, steps)


def build_components(
    cfg: TrainerConfig,
    agent: Agent,
    rollout: ActorCriticRollout,
    batches: dict[str, Callable[[], Any]],
) -> dict[str, ComponentState]:
    """Each trained part with its objective, its batches (`batches[name]`; none for the actor-critic, whose
    rollout draws its own starts), its optimizer and LR warm-up."""
    objectives = {
        "denoiser": lambda: DenoiserObjective(agent.denoiser, cfg.denoiser.sigma_distribution),
        "upsampler": lambda: DenoiserObjective(agent.upsampler, cfg.upsampler.sigma_distribution),
        "rew_end_model": lambda: RewEndObjective(
            agent.rew_end_model,
            rewarded_rows(cfg.rew_end_model.training.rewarded_share, cfg.rew_end_model.training.batch_size),
            imagined_frames(cfg, agent),
        ),
        "actor_critic": lambda: ActorCriticObjective(
            agent.actor_critic, rollout, cfg.actor_critic.actor_critic_loss
        ),
    }
    device = next(agent.parameters()).device
    check_precision(cfg.training.precision, device)  # bf16 on a device without autocast: one line
    warn_if_emulated(cfg.training.precision, device)
    components = {}
    for name in agent.parts:  # the parts the agent has (a null part in its config is absent)
        model, comp_cfg = getattr(agent, name), getattr(cfg, name)
        t = comp_cfg.training
        opt, sched = configure_optimizer(model, comp_cfg.optimizer, t.lr_warmup_steps)
        source = batches.get(name, lambda: None)
        components[name] = ComponentState(
            name,
            model,
            objectives[name](),
            source,
            opt,
            sched,
            t.grad_acc_steps,
            t.max_grad_norm,
            precision=cfg.training.precision,
        )
    return components


def _initialization_checkpoint(
    cfg: TrainerConfig,
) -> tuple[str, dict[str, torch.Tensor], ActionSpec | int, list[str]]:
    """(file, state_dict, actions, parts to load) of `initialization.path_to_ckpt` (a checkpoint file, or a run
    folder: its newest agent version). `actions` is the run folder's recorded spec, else the number of actions
    its weights tell."""
    init = cfg.initialization
    path = init.path_to_ckpt
    assert path is not None
    parts = [
        p
        for p, on in (
            ("denoiser", init.load_denoiser),
            ("upsampler", init.load_upsampler),
            ("rew_end_model", init.load_rew_end_model),
            ("actor_critic", init.load_actor_critic),
        )
        if on and getattr(cfg.agent, p) is not None
    ]
    recorded = None
    if Path(path).is_dir():  # a run folder (ours or the published code's): its newest agent version
        newest = RunDir(Path(path)).newest_agent_version()
        recorded = read_action_spec(RunDir(Path(path)).action_spec_file)
        if newest is None:
            raise ValueError(
                f"initialization.path_to_ckpt={path}: a folder without checkpoints/agent_versions/"
                "agent_epoch_XXXXX.pt (give a run folder or an agent checkpoint file)"
            )
        log.info("initialization.path_to_ckpt=%s: its newest agent version, %s", path, newest.name)
        path = str(newest)
    state_dict, _, num_actions = load_agent_state(path)  # read-only, weights_only=True
    return path, state_dict, recorded or num_actions, parts


def _load_parts(
    agent: Agent, state_dict: dict[str, torch.Tensor], parts: list[str], path: str, assign: bool = False
) -> None:
    try:
        load_into(agent, state_dict, parts=parts, assign=assign)
    except CheckpointMismatchError as e:
        source = f"initialization.path_to_ckpt={path}"
        raise CheckpointMismatchError(e.missing, e.unexpected, e.shape_mismatches, source=source) from None


def check_initialization(cfg: TrainerConfig) -> None:
    """Raise (one line) when `initialization.path_to_ckpt` cannot initialize the configured networks, before
    anything runs: checked on the meta device, no memory used."""
    path, state_dict, actions, parts = _initialization_checkpoint(cfg)
    if cfg.static_dataset.path is not None:  # the static dataset's actions (read-only)
        static = resolve_static_dataset(cfg.static_dataset.path)
        train, test = build_static_datasets(static, cache_in_ram=False, quiet=True)  # the run logs them
        spec = dataset_action_spec(train, test)
    else:  # the environment's (no files are written)
        env = make_env(cfg.env.test, cfg.env.type, 1, "cpu")
        spec = env.action_spec
        env.close()
    _check_actions(path, actions, spec, cfg)
    with torch.device("meta"):
        agent = Agent(cfg.agent, spec)
    # assign: the checkpoint's tensors become the meta agent's (a copy into a meta parameter is a no-op that
    # torch warns about, once per tensor)
    _load_parts(agent, state_dict, parts, path, assign=True)


def actions_source(cfg: TrainerConfig) -> str:
    """Where a run's actions come from, for error lines: the static dataset, or the game."""
    path = cfg.static_dataset.path
    return f"static_dataset.path={path}" if path is not None else cfg.env.test.id


def _check_actions(path: str, actions: ActionSpec | int, spec: ActionSpec, cfg: TrainerConfig) -> None:
    mismatch = action_mismatch(actions, f"initialization.path_to_ckpt={path}", spec, actions_source(cfg))
    if mismatch is not None:
        raise ValueError(f"{mismatch}: a checkpoint of another game?")


def initialize_agent(agent: Agent, cfg: TrainerConfig) -> None:
    """Load the parts chosen by `initialization.load_*` from `initialization.path_to_ckpt`, strictly; errors
    name the path."""
    path, state_dict, actions, parts = _initialization_checkpoint(cfg)
    _check_actions(path, actions, agent.action_spec, cfg)
    _load_parts(agent, state_dict, parts, path)
    log.info("initialized %s from %s", ", ".join(parts) or "nothing", path)
