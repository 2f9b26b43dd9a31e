"""Loading the CS:GO world model that `diamond play` plays: a checkpoint file with a folder of spawn points
(`--checkpoint csgo.pt --spawn DIR`), or the published model from the Hugging Face Hub (`--pretrained csgo`).

- Weights: a bare state_dict with `denoiser.` and `upsampler.` keys (the published `csgo/model/csgo.pt`), read with
  weights_only and loaded strictly. An agent of discrete actions given here is refused in one line naming both
  (the reverse, CS:GO weights given to Atari play or eval, is `loading.agent.refuse_csgo`).
- Networks: `--agent-config FILE` / `-o agent...` when given (see `loading.agent_config`), else those of the
  run folder the checkpoint lies in (a run of `diamond train --config-name csgo`), else the packaged `agent=csgo`
  preset (the published sizes); the Hub's own `csgo/config/agent/csgo.yaml` for `--pretrained csgo`.
- Actions: the 51-dim keyboard-and-mouse spec (`envs.csgo.csgo_action_spec`).
- Samplers: a `world_model_env` preset, `fast` (default) or `higher_quality` (`config/presets/world_model_env/`).
- Spawn points: checked against the networks (frame sizes, upsampling factor, actions) before anything plays.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from diamond_wm.config.published import read_yaml_raw
from diamond_wm.config.trainer import WorldModelEnvConfig
from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.envs.csgo.spawn import SpawnPoints
from diamond_wm.loading.agent import (
    CSGO_WORLD_MODEL,
    LoadError,
    _agent_config,
    _build,
    find_run_root,
    is_csgo_state_dict,
    read_checkpoint,
    read_run_config,
)
from diamond_wm.loading.agent_config import (
    CSGO_AGENT_PRESET,
    AgentRequest,
    agent_yaml_config,
    fits,
    preset_path,
)
from diamond_wm.models.agent import AGENT_PARTS, Agent

log = logging.getLogger(__name__)

WORLD_MODEL_ENV_PRESETS = ("fast", "higher_quality")
CSGO_HORIZON = 1000  # imagined episodes are truncated there (and restart from the next spawn point)


class NotCSGOError(LoadError):
    """The checkpoint given with spawn points is not the CS:GO world model (no upsampler): `diamond play` plays it
    as a world model of its own actions from those spawn points (`play.recorded_launch`)."""


@dataclass
class LoadedCSGO:
    """The CS:GO world model ready to play, where it came from, its spawn points and its samplers."""

    agent: Agent
    checkpoint: Path
    spawns: SpawnPoints
    world_model_env: WorldModelEnvConfig
    preset: str = "fast"
    pretrained: bool = False

    @property
    def name(self) -> str:
        return "csgo" if self.pretrained else self.checkpoint.stem


def world_model_env_preset(name: str) -> WorldModelEnvConfig:
    """The samplers of the packaged `world_model_env=NAME` preset (composed as `diamond train` composes it)."""
    if name not in WORLD_MODEL_ENV_PRESETS:
        raise ValueError(
            f"unknown world_model_env preset {name!r}: expected one of {', '.join(WORLD_MODEL_ENV_PRESETS)}"
        )
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config

    cfg = compose_trainer_config([f"world_model_env={name}"], validate=False)
    return to_trainer_config(cfg).world_model_env


def csgo_preset_config():
    """The packaged `agent=csgo` preset (the published networks)."""
    path = preset_path(CSGO_AGENT_PRESET)
    return agent_yaml_config(read_yaml_raw(path), path)


def describe_weights(state_dict: dict[str, torch.Tensor], num_actions: int) -> str:
    """What a checkpoint that is not the CS:GO world model holds, for error lines."""
    parts = [p for p in AGENT_PARTS if any(k.startswith(p + ".") for k in state_dict)]
    kind = "an agent" if "actor_critic" in parts else "a world model"
    return f"{kind} of {num_actions} discrete actions ({', '.join(parts) or 'no known part'})"


def open_spawn_points(spawn_dir: str | Path, agent: Agent) -> SpawnPoints:
    """The spawn points under `spawn_dir`, checked against the world model (LoadError in one line otherwise)."""
    try:
        spawns = SpawnPoints(spawn_dir, agent.denoiser.num_steps_conditioning)
        first = spawns.load(0)
    except (OSError, ValueError) as e:
        raise LoadError(f"bad --spawn: {str(e).splitlines()[0]}") from e
    where = f"spawn point {spawns.dirs[0]}"
    channels = agent.denoiser.cfg.inner_model.img_channels
    factor = int(agent.upsampler.cfg.upsampling_factor)
    _, c, h, w = first.low_res.shape
    if c != channels:
        raise LoadError(f"{where} has {c}-channel frames but the world model's have {channels}")
    if first.full_res is None:
        raise LoadError(
            f"{where} lacks full_res.npy, which the upsampler starts from: make the spawn points with the "
            "full-resolution frames (diamond dataset spawn DATASET FULL_RES OUT)"
        )
    want = (channels, h * factor, w * factor)
    if tuple(first.full_res.shape[1:]) != want:
        raise LoadError(
            f"{where} has full-resolution frames {tuple(first.full_res.shape[1:])}: the upsampler (x{factor}) "
            f"of its low-resolution {tuple(first.low_res.shape[1:])} frames makes {want}"
        )
    spec = csgo_action_spec()
    try:
        spec.validate(first.act, what=f"{where}: act.npy")
        spec.validate(first.next_act, what=f"{where}: next_act.npy")
    except ValueError as e:
        raise LoadError(str(e).splitlines()[0]) from e
    return spawns


def _run_agent_config(checkpoint: Path):
    """The networks of the run folder `checkpoint` lies in (a world model trained by `diamond train --config-name
    csgo`), else None."""
    run = find_run_root(checkpoint)
    return read_run_config(run).agent if run is not None else None


def load_csgo(
    checkpoint: str | Path,
    spawn_dir: str | Path,
    device: torch.device | str = "cpu",
    agent_request: Optional[AgentRequest] = None,
    preset: str = "fast",
) -> LoadedCSGO:
    """The CS:GO world model of a checkpoint file, with the spawn points of `spawn_dir` (see the module docstring)."""
    path = Path(checkpoint)
    try:
        wm_cfg = world_model_env_preset(preset)
    except ValueError as e:
        raise LoadError(str(e).splitlines()[0]) from e
    if not Path(spawn_dir).is_dir():  # before reading a checkpoint of 1.5 GB
        raise LoadError(f"bad --spawn: spawn folder {spawn_dir} does not exist")
    state_dict, saved_cfg, num_actions = read_checkpoint(path)
    if not is_csgo_state_dict(state_dict):
        raise NotCSGOError(
            f"checkpoint {path} is {describe_weights(state_dict, num_actions)}, not {CSGO_WORLD_MODEL} for the "
            f"spawn points of --spawn {spawn_dir}: play it with --env-id ID instead of --spawn"
        )
    cfg = _agent_config(
        agent_request, state_dict, saved_cfg or _run_agent_config(path) or csgo_preset_config()
    )
    if not fits(cfg, state_dict, csgo_action_spec()):  # checked before 1.5 GB are spent on the networks
        with torch.device("meta"):
            _build(
                state_dict, cfg, csgo_action_spec(), path, torch.device("meta")
            )  # LoadError naming the faults
    agent = _build(state_dict, cfg, csgo_action_spec(), path, torch.device(device))
    if agent.denoiser is None or agent.upsampler is None:
        raise LoadError(
            f"{path}: the CS:GO world model needs a denoiser and an upsampler in its agent config"
        )
    spawns = open_spawn_points(spawn_dir, agent)
    log.info(
        "CS:GO world model %s, %d spawn points in %s, %s samplers", path, len(spawns), spawns.root, preset
    )
    return LoadedCSGO(agent, path, spawns, wm_cfg, preset)


def load_pretrained_csgo(
    device: torch.device | str = "cpu",
    preset: str = "fast",
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> LoadedCSGO:
    """The published CS:GO world model, its networks and spawn points, downloaded from the Hub (cached)."""
    from diamond_wm import hub

    try:
        files = hub.download_csgo(cache_dir=cache_dir, endpoint=endpoint)
    except hub.HubDownloadError as e:
        raise LoadError(
            f"{e} -- no network? Download the csgo/ folder of https://huggingface.co/{hub.HUB_REPO_ID} elsewhere "
            f"and play it with --checkpoint csgo/model/csgo.pt --spawn csgo/spawn"
        ) from e
    loaded = load_csgo(files.model, files.spawn, device, AgentRequest(files.agent_config), preset)
    loaded.pretrained = True
    return loaded
