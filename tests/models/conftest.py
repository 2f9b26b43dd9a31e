"""Fixtures of the model tests: the conformance data in ../shared/reference/ and small agents."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from diamond_wm.bench.workloads import tiny_agent_config as bench_tiny_agent_config
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
    """A small agent (16x16 frames, 2 conditioning frames) for fast tests that need no reference data."""
    return bench_tiny_agent_config(num_steps_conditioning=2)


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
