"""Play sessions of a world model that starts from recorded play rather than a real game: a run trained on a static
dataset (`diamond train static_dataset.path=DATASET`: its contexts come from that dataset, test split first), or a
checkpoint with spawn points (`diamond play --checkpoint CKPT --spawn DIR`, from `diamond dataset spawn`).

No real environment is built: the world model is the session's only environment. The controllers are those that
exist: the policy (an actor-critic), the replay of the recorded actions that followed the context, and the human
(discrete actions: the keys of `keymap.py`). Without a reward/termination model, rewards and ends are not
predicted ("n/a" in the header) and episodes end at the horizon (or when the replay runs out).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch

from diamond_wm.config.actions import ActionSpec, read_action_spec
from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.envs.csgo.spawn import SpawnPoints
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.interactive.contexts import (
    DatasetContexts,
    ReplaySource,
    Start,
    dataset_misfit,
    expected_frame_shape,
)
from diamond_wm.interactive.keymap import Keymap
from diamond_wm.interactive.play_session import PlaySession
from diamond_wm.interactive.recording import EpisodeRecorder
from diamond_wm.interactive.steps import NamedEnv
from diamond_wm.loading.agent import LoadedAgent, LoadError
from diamond_wm.loading.static_run import contexts_folder, run_static_dataset
from diamond_wm.models.agent import Agent
from diamond_wm.models.world_model import world_model_of

log = logging.getLogger(__name__)


def static_contexts_dataset(loaded: LoadedAgent) -> Optional[EpisodeDataset]:
    """The dataset a static-dataset run's contexts come from (its test split, else its training split), checked
    against the agent; None for a run that collected its own episodes (or no run at all)."""
    paths = run_static_dataset(loaded.run_dir, loaded.run_cfg)
    if paths is None:
        return None
    dataset = EpisodeDataset(contexts_folder(paths), read_only=True, cache_in_ram=False)
    misfit = dataset_misfit(dataset, loaded.agent)
    if misfit is not None:
        raise LoadError(f"{misfit}: checkpoint {loaded.checkpoint} is not a world model of this dataset")
    log.info("initial conditions: %s (the run's static dataset)", dataset.directory)
    return dataset


def _named_spec(agent: Agent, recorded: Optional[ActionSpec]) -> ActionSpec:
    """The agent's actions, named by `recorded` (the dataset's or spawn points' spec) when the agent's are not."""
    spec = agent.action_spec
    if recorded is not None and recorded.same_layout(spec) and spec.is_discrete and not spec.names:
        return recorded
    return spec


def world_model_session(
    agent: Agent,
    source: ReplaySource,
    sampler: DiffusionSamplerConfig,
    base: str | Path,
    *,
    action_spec: ActionSpec,
    horizon: int = 50,
    record: bool = False,
    store_denoising_trajectory: bool = False,
    store_original_obs: bool = False,
    seed: Optional[int] = None,
    precision: str = "fp32",
) -> PlaySession:
    """A session in the world model alone, starting from `source` (see the module docstring)."""
    if store_original_obs:
        log.warning(
            "--store-original-obs: a world model playing from recorded play has no real frames (ignored)"
        )
    wm_env = WorldModelEnv(
        world_model_of(agent, sampler, seed=seed, action_spec=action_spec),
        source,
        num_envs=1,
        horizon=max(1, horizon),
        return_denoising_trajectory=store_denoising_trajectory,
        autoreset=False,  # the session resets an ended episode from the start it chooses
    )
    keymap = Keymap.from_action_names(action_spec.labels) if action_spec.is_discrete else None
    if keymap is None:
        log.info("%s: no keys for these actions, no human controller", action_spec.describe())
    recorder = None
    if record:
        recorder = EpisodeRecorder(base, store_denoising_trajectory, False, action_spec)
    return PlaySession(
        agent.actor_critic,
        [NamedEnv("wm", wm_env, True)],
        keymap,
        horizon=horizon,
        recorder=recorder,
        generator=torch.Generator().manual_seed(seed) if seed is not None else None,
        precision=precision,
        replay=source,
    )


def build_static_play_session(
    loaded: LoadedAgent, dataset: EpisodeDataset, base: str | Path, **kwargs
) -> PlaySession:
    """The session of a static-dataset run: contexts and replays from `dataset` (`static_contexts_dataset`)."""
    contexts = DatasetContexts(dataset, loaded.agent.denoiser.num_steps_conditioning)
    spec = _named_spec(loaded.agent, dataset.action_spec)
    return world_model_session(loaded.agent, contexts, loaded.sampler, base, action_spec=spec, **kwargs)


def open_spawn_points(
    spawn_dir: str | Path, agent: Agent, name: str = "the world model"
) -> tuple[SpawnPoints, Optional[ActionSpec]]:
    """The spawn points of a world model without upsampler (`name`: its checkpoint, for error lines), checked
    against it (frames, actions), and the action spec recorded beside them (`DIR/action_spec.json`, written by
    `diamond dataset spawn`), if any."""
    if agent.denoiser is None:
        raise LoadError("the agent has no denoiser: spawn points start a world model")
    try:
        spawns = SpawnPoints(spawn_dir, agent.denoiser.num_steps_conditioning)
        first = spawns.load(0)
        recorded = read_action_spec(Path(spawn_dir) / "action_spec.json")
    except (OSError, ValueError) as e:
        raise LoadError(f"bad --spawn: {str(e).splitlines()[0]}") from e
    where, spec = f"spawn point {spawns.dirs[0]}", agent.action_spec
    shape = tuple(first.low_res.shape[1:])
    want = expected_frame_shape(agent)
    channels = agent.cfg.denoiser.inner_model.img_channels
    if (want is not None and shape != want) or shape[0] != channels:
        raise LoadError(f"{where} has {shape} frames but {name} takes {want or (channels, 'H', 'W')} frames")
    for file, act in (("act.npy", first.act), ("next_act.npy", first.next_act)):
        if act.is_floating_point() != (not spec.is_discrete) or (spec.is_discrete and act.ndim != 1):
            kind = "discrete actions" if not act.is_floating_point() else f"{act.shape[-1]}-dim vectors"
            raise LoadError(f"{where}: {file} holds {kind} but {name} has {spec.describe()}")
        try:
            spec.validate(act, what=f"{where}: {file}")
        except ValueError as e:
            raise LoadError(f"{str(e).splitlines()[0]} ({name} has {spec.describe()})") from e
    return spawns, recorded


class SpawnsInTurn:
    """Spawn points for a play session: its episodes start from them in order (the world model's own restart after
    an episode ends, which the session does not show, draws one at random)."""

    def __init__(self, spawns: SpawnPoints) -> None:
        self.spawns = spawns

    def start(self, episode: int, generator: torch.Generator) -> Start:
        i = episode % len(self.spawns)
        return Start(self.spawns.context(i), self.spawns.replay(i), self.spawns.describe(i))

    def __call__(self, count: int, generator: Optional[torch.Generator] = None) -> tuple[torch.Tensor, ...]:
        return self.spawns(count, generator)


def build_spawn_play_session(
    loaded: LoadedAgent, spawn_dir: str | Path, base: str | Path, **kwargs
) -> PlaySession:
    """The session of a world model (no upsampler) starting from the spawn points of `spawn_dir`, in order."""
    spawns, recorded = open_spawn_points(spawn_dir, loaded.agent, f"checkpoint {loaded.checkpoint}")
    log.info("%d spawn points in %s", len(spawns), spawns.root)
    spec = _named_spec(loaded.agent, recorded)
    source = SpawnsInTurn(spawns)
    return world_model_session(loaded.agent, source, loaded.sampler, base, action_spec=spec, **kwargs)
