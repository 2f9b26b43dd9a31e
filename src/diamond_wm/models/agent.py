"""The DIAMOND agent: denoiser (world model), upsampler (CS:GO), reward/termination model and actor-critic in one
module, any of them absent."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
from torch import nn

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.agent import (
    ActorCriticConfig,
    AgentConfig,
    DenoiserConfig,
    InnerModelConfig,
    RewEndModelConfig,
)
from diamond_wm.models.actor_critic import ActorCritic
from diamond_wm.models.diffusion import build_denoiser
from diamond_wm.models.rew_end_model import RewEndModel

AGENT_PARTS = ("denoiser", "upsampler", "rew_end_model", "actor_critic")


def with_num_actions(cfg: AgentConfig, num_actions: int) -> AgentConfig:
    """A copy of `cfg` with `num_actions` filled in at every level that needs it."""
    if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 1:
        raise ValueError(f"num_actions must be an integer >= 1, got {num_actions!r}")
    if cfg.num_actions is not None and cfg.num_actions != num_actions:
        raise ValueError(
            f"num_actions={num_actions} conflicts with the config's num_actions={cfg.num_actions}"
        )
    cfg = copy.deepcopy(cfg)
    cfg.num_actions = num_actions
    for denoiser in (cfg.denoiser, cfg.upsampler):
        if denoiser is not None:
            denoiser.inner_model.num_actions = num_actions
    for part in (cfg.rew_end_model, cfg.actor_critic):
        if part is not None:
            part.num_actions = num_actions
    return cfg


def _from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build the dataclass `cls` from a plain dict; keys starting with '_' (e.g. `_target_`) are ignored."""
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(k for k in data if k not in fields and not str(k).startswith("_"))
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown} (known: {sorted(fields)})")
    nested = {
        "denoiser": DenoiserConfig,
        "upsampler": DenoiserConfig,
        "inner_model": InnerModelConfig,
        "rew_end_model": RewEndModelConfig,
        "actor_critic": ActorCriticConfig,
    }
    kwargs = {}
    for k, v in data.items():
        if k not in fields:
            continue
        sub = nested.get(k)
        kwargs[k] = _from_dict(sub, v, f"{where}.{k}") if sub is not None and v is not None else v
    return cls(**kwargs)


def agent_config_from_dict(data: dict[str, Any]) -> AgentConfig:
    """AgentConfig from its plain-dict form (as saved in our checkpoints, or read from the published YAML)."""
    return _from_dict(AgentConfig, data, "agent config")


def agent_config_to_dict(cfg: AgentConfig) -> dict[str, Any]:
    """The agent config as a plain dict of builtins (safe to store in a weights_only checkpoint)."""
    return dataclasses.asdict(cfg)


def as_action_spec(actions: ActionSpec | int) -> ActionSpec:
    """`actions` as a spec: an integer n means n discrete actions."""
    if isinstance(actions, ActionSpec):
        return actions
    if isinstance(actions, bool) or not isinstance(actions, int) or actions < 1:
        raise ValueError(f"actions={actions!r}: expected an ActionSpec or a number of discrete actions >= 1")
    return ActionSpec.discrete(actions)


class Agent(nn.Module):
    """Holds `denoiser`, `upsampler`, `rew_end_model` and `actor_critic`, built from an AgentConfig and the action spec (or the
    number of discrete actions).

    A part whose config is None is absent: its attribute is None and its keys are not in the state_dict, which
    holds the present parts under the published prefixes (`denoiser.`, `upsampler.`, `rew_end_model.`,
    `actor_critic.`).
    The world model embeds discrete or multi-hot actions (`num_actions` of its configs is then the number of
    dimensions); the actor-critic chooses among discrete actions only.
    """

    def __init__(self, cfg: AgentConfig, actions: ActionSpec | int) -> None:
        super().__init__()
        self.action_spec = as_action_spec(actions)
        if cfg.actor_critic is not None and not self.action_spec.is_discrete:
            raise ValueError(
                f"the actor-critic chooses among discrete actions, not {self.action_spec.describe()}: "
                "set agent.actor_critic=null for a world model of multi-hot actions"
            )
        self.num_actions = self.action_spec.num_action_dims
        self.cfg = with_num_actions(cfg, self.num_actions)
        c = self.cfg
        self.denoiser = build_denoiser(c.denoiser) if c.denoiser is not None else None  # EDM or DDPM
        self.upsampler = build_denoiser(c.upsampler) if c.upsampler is not None else None
        if self.upsampler is not None and not self.upsampler.is_upsampler:
            raise ValueError(
                "agent.upsampler needs an upsampling_factor (the low- to full-resolution factor, e.g. 5)"
            )
        self.rew_end_model = RewEndModel(c.rew_end_model) if c.rew_end_model is not None else None
        self.actor_critic = ActorCritic(c.actor_critic) if c.actor_critic is not None else None
        if not self.parts:
            raise ValueError("an agent needs at least one part: every part of its config is null")

    @property
    def parts(self) -> tuple[str, ...]:
        """Names of the parts present, in the published order."""
        return tuple(name for name in AGENT_PARTS if getattr(self, name) is not None)

    @property
    def device(self) -> torch.device:
        """Device of the parameters."""
        return next(self.parameters()).device

    def num_parameters(self) -> dict[str, int]:
        """Learnable parameters of each part (the denoiser's fixed Fourier weights are a buffer, not counted)."""
        return {name: sum(p.numel() for p in getattr(self, name).parameters()) for name in self.parts}
