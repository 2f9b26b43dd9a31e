"""The networks a checkpoint file needs when the file does not say: bare state_dicts (the published code's files,
and diamond-wm's own `agent_epoch_XXXXX.pt`) hold weights only.

Where the agent config comes from, first that applies (see `loading.agent`):

1. the command line (`AgentRequest`): `--agent-config FILE` and/or `-o agent=NAME` / `-o agent.KEY=VALUE`, the
   keys and presets of `diamond train`. FILE is a published `config/trainer.yaml` or `config/agent/*.yaml`, one
   of our run configs, an agent preset YAML, or a run folder (its config);
2. an older diamond-wm file's own config; 3. the config of the run folder the file lies in;
4. the packaged presets (`default` = the paper's, `small`, `demo`, `tiny`, `ddpm`, `world_model_small`): the one
   the checkpoint loads into strictly (`detect_preset`). A CS:GO world model (`diamond play --spawn`) gets the
   `csgo` preset instead (`diamond_wm.loading.csgo`).

Frame size: agent YAMLs and presets take it from `${env.train.size}`. Unless an `img_size` is given, it is the size
the checkpoint's actor-critic was built for, read off the width of its LSTM input (`fitted_img_size`).
"""

from __future__ import annotations

import copy
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Optional

import torch
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.agent import ActorCriticConfig, AgentConfig
from diamond_wm.config.errors import UnknownKeyError, flat_keys
from diamond_wm.config.published import (
    has_published_marks,
    read_ddpm_denoisers,
    read_published_trainer_config,
    read_yaml_raw,
    strip_targets,
)
from diamond_wm.models.agent import Agent, agent_config_from_dict
from diamond_wm.models.checkpoint import CheckpointMismatchError, check_state_dict

log = logging.getLogger(__name__)

# The agents (discrete actions) `detect_preset` tries; world_model_small: `--config-name world_model`'s
AGENT_PRESETS = ("default", "small", "demo", "tiny", "ddpm", "world_model_small")
CSGO_AGENT_PRESET = "csgo"  # the CS:GO world model (denoiser + upsampler): asked for, never guessed
PACKAGED_AGENT_PRESETS = AGENT_PRESETS + (CSGO_AGENT_PRESET,)
DEFAULT_IMG_SIZE = 64
AGENT_PARTS_KEYS = ("denoiser", "upsampler", "rew_end_model", "actor_critic")
HOW_TO_GIVE = (
    "give its networks with --agent-config FILE (its run's config/trainer.yaml, a published config/agent/*.yaml) "
    "or -o agent=NAME -o agent.KEY=VALUE (the keys of diamond train)"
)


@dataclass(frozen=True)
class AgentRequest:
    """The agent config asked for on the command line (`--agent-config`, `-o`)."""

    config_file: Optional[Path] = None
    overrides: tuple[str, ...] = ()

    @property
    def given(self) -> bool:
        return self.config_file is not None or bool(self.overrides)


def fitted_img_size(
    state_dict: Mapping[str, torch.Tensor], actor_critic: Optional[ActorCriticConfig]
) -> Optional[int]:
    """The frame size an actor-critic of this config was built for in `state_dict` (its LSTM input is
    channels[-1] x side x side, side = img_size / 2^poolings), or None when the state_dict does not tell (or the
    config has no actor-critic: the CS:GO world model's U-Nets take any frame size)."""
    w = state_dict.get("actor_critic.lstm.weight_ih")
    if actor_critic is None or not isinstance(w, torch.Tensor) or w.ndim != 2 or not actor_critic.channels:
        return None
    per_channel, rest = divmod(int(w.shape[1]), int(actor_critic.channels[-1]))
    side = math.isqrt(per_channel)
    if rest or side < 1 or side * side != per_channel:
        return None
    return side * 2 ** sum(1 for d in actor_critic.down if d)


def _with_img_size(cfg: AgentConfig, size: int) -> AgentConfig:
    cfg = copy.deepcopy(cfg)
    for part in (cfg.rew_end_model, cfg.actor_critic):
        if part is not None:
            part.img_size = size
    return cfg


def agent_yaml_config(
    data: dict[str, Any], source: str | Path, img_size: int = DEFAULT_IMG_SIZE
) -> AgentConfig:
    """AgentConfig of an agent YAML (published or a preset; `_target_` keys dropped), `${env.train.size}` = img_size."""
    from diamond_wm.hub import known_agent_keys

    targets: dict[str, str] = {}
    data = strip_targets(data, "agent", targets)
    read_ddpm_denoisers(data, targets, source, root="agent")
    root = {"agent": data, "env": {"train": {"size": img_size}}}
    try:
        resolved = OmegaConf.to_container(OmegaConf.create(root), resolve=True)["agent"]
    except OmegaConfBaseException as e:
        raise ValueError(f"cannot resolve {source}: {str(e).splitlines()[0]}") from e
    return agent_config_from_dict(known_agent_keys(resolved, str(source)))


def preset_path(name: str) -> Path:
    """The packaged agent preset `name` (config/presets/agent/NAME.yaml)."""
    if name not in PACKAGED_AGENT_PRESETS:
        raise ValueError(
            f"unknown agent preset {name!r}: expected one of {', '.join(PACKAGED_AGENT_PRESETS)}"
        )
    return Path(str(resources.files("diamond_wm.config.presets") / "agent" / f"{name}.yaml"))


def read_agent_config_file(path: str | Path) -> tuple[AgentConfig, bool]:
    """(AgentConfig, whether its frame size is explicit) of a file or run folder (see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        path = path / "config" / "trainer.yaml"
    if not path.is_file():
        raise ValueError(f"agent config not found: {path}")
    raw = read_yaml_raw(path)
    if isinstance(raw, dict) and isinstance(
        raw.get("agent"), dict
    ):  # a run's (or a published) trainer config
        if has_published_marks(raw):
            return read_published_trainer_config(path).agent, True
        from diamond_wm.config.compose import load_run_config

        try:
            return load_run_config(path).agent, True
        except ValueError as e:
            raise ValueError(f"{path}: {str(e).splitlines()[0]}") from e
    if isinstance(raw, dict) and any(k in raw for k in AGENT_PARTS_KEYS):
        return agent_yaml_config(raw, path), False
    found = sorted(raw)[:6] if isinstance(raw, dict) else type(raw).__name__
    raise ValueError(
        f"{path} is not an agent config: expected a trainer config with an `agent:` section or an agent YAML "
        f"with denoiser / rew_end_model / actor_critic (found {found})"
    )


def apply_agent_overrides(cfg: AgentConfig, overrides: list[str]) -> AgentConfig:
    """`agent.KEY=VALUE` overrides (values in YAML syntax, e.g. `agent.actor_critic.channels=[8,8,8,8]`)."""
    if not overrides:
        return cfg
    dotlist = [o[len("agent.") :] for o in overrides]
    schema = OmegaConf.structured(cfg)
    try:
        merged = OmegaConf.merge(schema, OmegaConf.from_dotlist(dotlist))
        out = OmegaConf.to_object(merged)
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None)
        if key and key not in flat_keys(schema):
            raise UnknownKeyError(f"agent.{key}", [f"agent.{k}" for k in flat_keys(schema)]) from e
        raise ValueError(f"invalid agent override: {str(getattr(e, 'msg', e)).splitlines()[0]}") from e
    from diamond_wm.config.validation import check_agent

    check_agent("agent", out)
    return out


def _split_overrides(overrides: tuple[str, ...]) -> tuple[Optional[str], list[str]]:
    presets, keys = [], []
    for o in overrides:
        key, eq, value = o.partition("=")
        if not eq or not (key == "agent" or key.startswith("agent.")):
            raise ValueError(
                f"-o {o}: expected agent=NAME ({', '.join(PACKAGED_AGENT_PRESETS)}) or agent.KEY=VALUE, e.g. "
                "agent.actor_critic.lstm_dim=128"
            )
        if key == "agent":
            presets.append(value)
        else:
            keys.append(o)
    if len(presets) > 1:
        raise ValueError(f"-o agent=NAME given {len(presets)} times ({', '.join(presets)}): give one preset")
    return (presets[0] if presets else None), keys


def resolve_agent_request(
    request: AgentRequest,
    state_dict: Mapping[str, torch.Tensor],
    base: Optional[AgentConfig] = None,
) -> AgentConfig:
    """The agent config of a command-line request: FILE or preset NAME (else `base`, else the paper's
    networks), then the `agent.*` overrides; the frame size fitted to the checkpoint unless explicit."""
    preset, keys = _split_overrides(request.overrides)
    if preset is not None and request.config_file is not None:
        raise ValueError(f"give either --agent-config or -o agent={preset}, not both")
    explicit_size = any(k.partition("=")[0].endswith("img_size") for k in keys)
    if request.config_file is not None:
        cfg, file_size = read_agent_config_file(request.config_file)
        explicit_size = explicit_size or file_size
    elif preset is not None:
        cfg = agent_yaml_config(read_yaml_raw(preset_path(preset)), preset_path(preset))
        cfg = without_absent_parts(cfg, state_dict)  # only the parts the weights hold
    elif base is not None:
        cfg, explicit_size = base, True
    else:
        cfg = agent_yaml_config(read_yaml_raw(preset_path("default")), "the default agent preset")
    cfg = apply_agent_overrides(cfg, keys)
    size = fitted_img_size(state_dict, cfg.actor_critic)
    if not explicit_size and size is not None and size != cfg.actor_critic.img_size:
        cfg = _with_img_size(cfg, size)
    return cfg


def fits(cfg: AgentConfig, state_dict: Mapping[str, torch.Tensor], actions: ActionSpec | int) -> bool:
    """True when `state_dict` loads strictly into an agent of this config and these actions (checked on the meta
    device: no memory)."""
    try:
        with torch.device("meta"):
            agent = Agent(cfg, actions)
        check_state_dict(agent, state_dict)
    except (CheckpointMismatchError, ValueError):
        return False
    return True


def without_absent_parts(cfg: AgentConfig, state_dict: Mapping[str, torch.Tensor]) -> AgentConfig:
    """`cfg` with the parts the weights do not hold set to None (a world model saved without actor-critic or
    reward/termination model)."""
    cfg = copy.deepcopy(cfg)
    for part in AGENT_PARTS_KEYS:
        if getattr(cfg, part, None) is not None and not any(k.startswith(part + ".") for k in state_dict):
            setattr(cfg, part, None)
    return cfg


def detect_preset(
    state_dict: Mapping[str, torch.Tensor], num_actions: int, source: str | Path
) -> AgentConfig:
    """The packaged preset the checkpoint loads into strictly (without the parts it does not hold); ValueError
    naming the sizes tried otherwise."""
    tried = []
    for name in AGENT_PRESETS:
        cfg = agent_yaml_config(read_yaml_raw(preset_path(name)), preset_path(name))
        cfg = without_absent_parts(cfg, state_dict)
        size = fitted_img_size(state_dict, cfg.actor_critic)
        if size is not None:
            cfg = _with_img_size(cfg, size)
        if fits(cfg, state_dict, num_actions):
            part = cfg.actor_critic or cfg.rew_end_model
            size = f"{part.img_size}x{part.img_size} frames" if part is not None else "a world model alone"
            log.info("%s: the networks of the agent preset %r (%s)", source, name, size)
            return cfg
        tried.append(f"{name} (U-Net channels {cfg.denoiser.inner_model.channels})")
    raise ValueError(
        f"{source} ({num_actions} actions) fits none of the packaged agent presets, tried {'; '.join(tried)}: "
        + HOW_TO_GIVE
    )


def _flat(node: Any, where: str = "") -> dict[str, Any]:
    """{dotted key: value} of a config tree; an absent (null) part is one key with the value None."""
    if isinstance(node, dict):
        return {k: v for key, sub in node.items() for k, v in _flat(sub, f"{where}.{key}").items()}
    return {where[1:]: node}


def _present_parts(flat: dict[str, Any]) -> set[str]:
    return {k.split(".", 1)[0] for k in flat if "." in k}


def _override_value(value: Any) -> str:
    """A value as a Hydra override writes it, without spaces (one shell word)."""
    if isinstance(value, list):
        return "[" + ",".join(_override_value(v) for v in value) + "]"
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def agent_overrides(cfg: AgentConfig, img_size: int) -> list[str]:
    """The `diamond train` overrides that give the networks of `cfg` for frames of `img_size` (`env.train.size`):
    the packaged preset closest to it (`agent=NAME`, none for the default), then each key that differs."""
    want = _flat(OmegaConf.to_container(OmegaConf.structured(cfg)))
    best: Optional[list[str]] = None
    for name in PACKAGED_AGENT_PRESETS:
        preset = agent_yaml_config(read_yaml_raw(preset_path(name)), preset_path(name), img_size)
        have = _flat(OmegaConf.to_container(OmegaConf.structured(preset)))
        if _present_parts(want) - _present_parts(have):
            continue  # a part the preset sets to null: its keys cannot be given one by one
        diff = [f"agent={name}"] if name != "default" else []
        diff += [f"agent.{p}=null" for p in sorted(_present_parts(have) - _present_parts(want))]
        diff += [
            f"agent.{k}={_override_value(v)}"
            for k, v in want.items()
            if "." in k and not k.endswith(".num_actions") and have.get(k) != v
        ]
        if best is None or len(diff) < len(best):
            best = diff
    if best is None:
        raise ValueError("no packaged agent preset has the parts of this agent")
    return best
