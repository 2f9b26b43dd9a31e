"""Fixtures of the model tests: the conformance data in ../shared/reference/ and small agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from diamond_wm.config.agent import AgentConfig
from diamond_wm.models.agent import Agent, agent_config_from_dict
from diamond_wm.models.checkpoint import load_into

REFERENCE_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "reference"


def reference_file(name: str) -> Path:
    """Path of a conformance file; skips the test when the shared folder is absent."""
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"conformance file not found: {path} (shared/reference/ lives beside the checkout)")
    return path


def tiny_agent_config() -> AgentConfig:
    """A small agent (16x16 frames) for fast tests that need no reference data."""
    return agent_config_from_dict(
        {
            "denoiser": {
                "inner_model": {
                    "img_channels": 3,
                    "num_steps_conditioning": 2,
                    "cond_channels": 16,
                    "depths": [1, 1],
                    "channels": [8, 8],
                    "attn_depths": [0, 1],
                }
            },
            "rew_end_model": {
                "lstm_dim": 8,
                "img_size": 16,
                "cond_channels": 8,
                "depths": [1, 1],
                "channels": [8, 8],
                "attn_depths": [0, 0],
            },
            "actor_critic": {"lstm_dim": 8, "img_size": 16, "channels": [4, 4], "down": [1, 1]},
        }
    )


@pytest.fixture(scope="session")
def small_agent_data() -> dict[str, Any]:
    """`small_agent.pt`: {"config", "state_dict", "cases"}."""
    return torch.load(reference_file("small_agent.pt"), weights_only=True)


@pytest.fixture(scope="session")
def small_agent(small_agent_data: dict[str, Any]) -> Agent:
    """Our Agent built from the fixture's config with its state_dict loaded strictly, in eval mode."""
    cfg = agent_config_from_dict(small_agent_data["config"])
    agent = Agent(cfg, small_agent_data["config"]["num_actions"])
    load_into(agent, small_agent_data["state_dict"])
    return agent.eval()


@pytest.fixture
def tiny_agent() -> Agent:
    """A freshly initialised tiny agent with 3 actions (seeded)."""
    torch.manual_seed(0)
    return Agent(tiny_agent_config(), 3)
