"""An Agent of optional parts: absent parts have no keys, and loading works per part, strictly."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import CheckpointMismatchError, load_into
from tests.models.conftest import tiny_agent_config


def test_a_world_model_only_agent_holds_only_its_parts():
    full = Agent(tiny_agent_config(), 3)
    wm = Agent(dataclasses.replace(tiny_agent_config(), actor_critic=None), 3)
    assert wm.parts == ("denoiser", "rew_end_model") and wm.actor_critic is None
    assert {k.split(".", 1)[0] for k in wm.state_dict()} == {"denoiser", "rew_end_model"}
    assert set(wm.num_parameters()) == {"denoiser", "rew_end_model"}
    load_into(
        wm, full.state_dict()
    )  # the full checkpoint's actor-critic keys are ignored, the rest is strict
    for k, v in wm.state_dict().items():
        assert torch.equal(v, full.state_dict()[k]), k
    with pytest.raises(ValueError, match=r"has no actor_critic \(its config sets agent.actor_critic=null\)"):
        load_into(wm, full.state_dict(), parts=["actor_critic"])
    partial = {k: v for k, v in full.state_dict().items() if not k.startswith("rew_end_model.")}
    with pytest.raises(CheckpointMismatchError, match="missing keys"):
        load_into(wm, partial)  # a part the agent has must be complete


def test_an_agent_needs_a_part():
    empty = dataclasses.replace(tiny_agent_config(), denoiser=None, rew_end_model=None, actor_critic=None)
    with pytest.raises(ValueError, match="at least one part"):
        Agent(empty, 3)


def test_null_parts_from_the_command_line():
    cfg = to_trainer_config(
        compose_trainer_config(
            ["agent.denoiser=null", "agent.rew_end_model=null", "training.model_free=true"]
        )
    )
    assert (
        cfg.agent.denoiser is None and cfg.agent.rew_end_model is None and cfg.agent.actor_critic is not None
    )
    with pytest.raises(ValueError, match=r"agent.rew_end_model=None: expected its network config"):
        compose_trainer_config(["agent.rew_end_model=null"])  # imagination needs it
