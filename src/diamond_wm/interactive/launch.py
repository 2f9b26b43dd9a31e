"""Building play sessions from a loaded agent (dataset mode is built in `browse_launch.py`).

Play mode needs real contexts to start imagination from: the run's training dataset when playing a run folder,
otherwise `num_steps` steps collected once in the real test environment (with the policy; uniformly random actions
for a world model without one) and kept in `<base>/dataset/<checkpoint>_<num_steps>/` (reused by later sessions, as
the published implementation does). A run trained on a static dataset starts from that dataset and builds no real
environment (`recorded_launch.py`); the CS:GO world model starts from its spawn points (`build_csgo_play_session`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import torch

from diamond_wm.config.errors import ConfigError
from diamond_wm.data.contexts import segment_contexts
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.envs.factory import make_env
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.interactive.contexts import dataset_misfit
from diamond_wm.interactive.csgo_controls import DEFAULT_MOUSE_MULTIPLIER, CSGOControls
from diamond_wm.interactive.csgo_session import CSGOPlaySession
from diamond_wm.interactive.keymap import keymap_for_config
from diamond_wm.interactive.play_session import PlaySession
from diamond_wm.interactive.recorded_launch import build_static_play_session, static_contexts_dataset
from diamond_wm.interactive.recording import EpisodeRecorder
from diamond_wm.interactive.steps import NamedEnv
from diamond_wm.loading.agent import LoadedAgent, LoadError, check_action_spec
from diamond_wm.loading.csgo import CSGO_HORIZON, LoadedCSGO
from diamond_wm.models.agent import Agent
from diamond_wm.models.world_model import world_model_of
from diamond_wm.runtime.compile import compile_world_model
from diamond_wm.runtime.precision import autocast
from diamond_wm.training.collector import Collector

log = logging.getLogger(__name__)


def initial_conditions_dataset(
    loaded: LoadedAgent, base: Path, num_steps: int, seed: Optional[int] = None
) -> EpisodeDataset:
    """Real episodes to draw the world model's starting contexts from (see the module docstring)."""
    if loaded.run_dir is not None:
        train = EpisodeDataset(loaded.run_dir / "dataset" / "train", name="train", read_only=True)
        if train.num_episodes > 0:
            misfit = dataset_misfit(train, loaded.agent)
            if misfit is not None:
                raise LoadError(f"{misfit}: checkpoint {loaded.checkpoint} is not for this run's game")
            log.info("initial conditions: %s", train)
            return train
    directory = base / "dataset" / f"{loaded.name}_{num_steps}"
    dataset = EpisodeDataset(directory, name=directory.name, cache_in_ram=True)
    misfit = dataset_misfit(dataset, loaded.agent)
    if misfit is not None:  # our own cache, made for another checkpoint of the same name: collected again
        log.warning("%s: collecting it again", misfit)
    elif dataset.num_steps >= num_steps:
        log.info("initial conditions: %s (collected earlier)", dataset)
        return dataset
    dataset.clear()
    agent = loaded.agent
    dataset.set_action_spec(agent.action_spec)
    how = "" if agent.actor_critic is not None else " (random actions: the world model has no policy)"
    log.info(
        "collecting %d steps in the real environment for the world model's initial conditions%s",
        num_steps,
        how,
    )
    env = make_env(loaded.env.test, loaded.env.type, 1, agent.device)
    try:
        gen = torch.Generator().manual_seed(
            seed if seed is not None else int(torch.randint(2**31, (1,)).item())
        )
        collector = Collector(
            env, dataset, agent.actor_critic, epsilon=0.0, show_progress=False, seed=seed, generator=gen
        )
        collector.collect(num_steps=num_steps)
    finally:
        env.close()
    dataset.save_index()
    return dataset


def make_initial_conditions(dataset: EpisodeDataset, num_steps_conditioning: int):
    """The `WorldModelEnv` source of real contexts: segments drawn uniformly from `dataset`."""
    return segment_contexts(dataset, num_steps_conditioning)


def build_play_session(
    loaded: LoadedAgent,
    base: str | Path,
    *,
    num_steps_initial_collect: int = 1000,
    horizon: int = 50,
    record: bool = False,
    store_denoising_trajectory: bool = False,
    store_original_obs: bool = False,
    seed: Optional[int] = None,
    precision: str = "fp32",
) -> PlaySession:
    """The play-mode session: envs world model -> real test -> real train, the policy first in control (see
    the module docstring); a static-dataset run's session has the world model alone."""
    base = Path(base)
    agent = loaded.agent
    device = agent.device
    static = static_contexts_dataset(loaded)
    if static is not None:
        return build_static_play_session(
            loaded,
            static,
            base,
            horizon=horizon,
            record=record,
            store_denoising_trajectory=store_denoising_trajectory,
            store_original_obs=store_original_obs,
            seed=seed,
            precision=precision,
        )
    if loaded.env is None:
        raise LoadError(f"which game is {loaded.checkpoint} for? give --env-id (or --spawn DIR)")
    test_env = make_env(loaded.env.test, loaded.env.type, 1, device, asynchronous=False)
    try:  # before anything is collected with it
        check_action_spec(agent.action_spec, loaded.checkpoint, test_env.action_spec, loaded.env.test.id)
        keymap = keymap_for_config(loaded.env.keymap, test_env.action_names, loaded.env.train.id)
    except (LoadError, ConfigError):
        test_env.close()
        raise
    init = initial_conditions_dataset(loaded, base, num_steps_initial_collect, seed)
    n = agent.denoiser.num_steps_conditioning
    wm_env = WorldModelEnv(
        world_model_of(agent, loaded.sampler, seed=seed),
        make_initial_conditions(init, n),
        num_envs=1,
        horizon=max(1, horizon),
        return_denoising_trajectory=store_denoising_trajectory,
        autoreset=False,  # the session resets an ended episode from the start it chooses
    )
    train_env = make_env(loaded.env.train, loaded.env.type, 1, device, asynchronous=False)
    envs = [NamedEnv("wm", wm_env, True), NamedEnv("test", test_env), NamedEnv("train", train_env)]
    recorder = None
    if record:
        recorder = EpisodeRecorder(base, store_denoising_trajectory, store_original_obs, test_env.action_spec)
    generator = torch.Generator().manual_seed(seed) if seed is not None else None
    return PlaySession(
        agent.actor_critic,
        envs,
        keymap,
        horizon=horizon,
        recorder=recorder,
        generator=generator,
        precision=precision,
    )


def build_csgo_play_session(
    loaded: LoadedCSGO,
    base: str | Path,
    *,
    horizon: int = CSGO_HORIZON,
    record: bool = False,
    store_denoising_trajectory: bool = False,
    store_original_obs: bool = False,
    mouse_multiplier: float = DEFAULT_MOUSE_MULTIPLIER,
    seed: Optional[int] = None,
    precision: str = "fp32",
) -> CSGOPlaySession:
    """The play session of the CS:GO world model: its spawn points, its preset's two samplers, the replay first in
    control. Recordings go to `<base>/dataset/rec_wm_<controller>/`."""
    agent, wm = loaded.agent, loaded.world_model_env
    if store_original_obs:
        log.warning(
            "--store-original-obs: the CS:GO world model has no real game whose frames to keep (ignored)"
        )
    wm_env = WorldModelEnv(
        world_model_of(agent, wm.diffusion_sampler_next_obs, wm.diffusion_sampler_upsampling, seed=seed),
        loaded.spawns,
        num_envs=1,
        horizon=max(1, horizon),
        return_denoising_trajectory=store_denoising_trajectory,
        autoreset=False,  # the session resets an ended episode from the start it chooses
    )
    recorder = None
    if record:
        recorder = EpisodeRecorder(base, store_denoising_trajectory, False, agent.action_spec)
    return CSGOPlaySession(wm_env, loaded.spawns, CSGOControls(mouse_multiplier), recorder, precision)


def compile_for_play(session: PlaySession, agent: Agent) -> None:
    """`torch.compile` the world model (with freezing: the weights are constants in play) and compile it now, on
    one imagined step, rather than on the window's first frames. The world model env's random state is put back,
    so a seeded session plays the same frames with and without compiling."""
    compile_world_model(agent, freeze=True)
    wm = next(e.env for e in session.envs if e.is_world_model)
    states = [g.get_state() for g in wm.generators]
    with autocast(session.device, session.precision):
        wm.reset()
        wm.step(session.idle_action())  # play has one environment
    for g, state in zip(wm.generators, states, strict=True):
        g.set_state(state)
    session.request_reset()


def game_name(loaded: LoadedAgent) -> str:
    """What the agent plays, for the window title: the static dataset its run trained on, else its game's id."""
    from diamond_wm.loading.static_run import static_path

    path = static_path(loaded.run_cfg)
    if path is not None:
        return f"world model of {path}"
    return loaded.env.test.id if loaded.env is not None else "world model"
