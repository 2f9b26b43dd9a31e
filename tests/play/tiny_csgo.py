"""A tiny CS:GO-shaped world model for play tests: the published file layout (a bare state_dict with `denoiser.` and
`upsampler.` keys, an agent YAML in the published format, spawn folders) at a size that steps in milliseconds:
6x10 low-resolution frames upsampled x5 to 30x50, 51-dim keyboard-and-mouse actions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from diamond_wm.envs.csgo import csgo_action_spec, encode
from diamond_wm.loading.agent_config import agent_yaml_config
from diamond_wm.models.agent import Agent

LOW_RES = (6, 10)
FACTOR = 5

# The published config/agent/csgo.yaml's format (`_target_` keys naming the reference's classes), tiny networks.
AGENT_YAML = """\
_target_: agent.AgentConfig

denoiser:
  _target_: models.diffusion.DenoiserConfig
  sigma_data: 0.5
  sigma_offset_noise: 0.1
  noise_previous_obs: true
  upsampling_factor: null
  inner_model:
    _target_: models.diffusion.InnerModelConfig
    img_channels: 3
    num_steps_conditioning: 4
    cond_channels: 16
    depths: [1, 1]
    channels: [8, 8]
    attn_depths: [0, 0]

upsampler:
  _target_: models.diffusion.DenoiserConfig
  sigma_data: 0.5
  sigma_offset_noise: 0.1
  noise_previous_obs: false
  upsampling_factor: 5
  inner_model:
    _target_: models.diffusion.InnerModelConfig
    img_channels: 3
    num_steps_conditioning: 1
    cond_channels: 16
    depths: [1, 1]
    channels: [8, 8]
    attn_depths: [0, 0]

rew_end_model: null

actor_critic: null
"""

# The recorded human actions of each spawn point (`next_act.npy`), as encoder inputs.
REPLAYS = (
    (
        (("w",), 20, 0, False),
        (("w", "a"), -60, 4, False),
        ((), 0, 0, True),
    ),
    (
        (("s", "left shift"), 0, -10, False),
        (("d",), 100, 0, True),
    ),
)


def vectors(steps) -> np.ndarray:
    """(T, 51) float32 action vectors of (keys, mouse_dx, mouse_dy, l_click) steps."""
    return np.stack([encode(k, dx, dy, l_click=c).to_vector().numpy() for k, dx, dy, c in steps])


@dataclass
class TinyCSGO:
    checkpoint: Path
    agent_config: Path
    spawn: Path
    state_dict: dict[str, torch.Tensor]


def tiny_csgo_agent(seed: int = 0) -> Agent:
    torch.manual_seed(seed)
    from omegaconf import OmegaConf

    raw = OmegaConf.to_container(OmegaConf.create(AGENT_YAML))
    return Agent(agent_yaml_config(raw, "tiny csgo"), csgo_action_spec()).eval()


def write_spawn_points(root: Path, num_spawns: int = 2, seed: int = 0) -> Path:
    """Spawn folders `root/<n>/` as published: 4 context frames (uint8, low and full resolution), their actions and
    the replay of `REPLAYS[n]`."""
    rng = np.random.default_rng(seed)
    h, w = LOW_RES
    for n in range(num_spawns):
        d = root / str(n)
        d.mkdir(parents=True)
        np.save(d / "low_res.npy", rng.integers(0, 256, (4, 3, h, w), dtype=np.uint8))
        np.save(d / "full_res.npy", rng.integers(0, 256, (4, 3, h * FACTOR, w * FACTOR), dtype=np.uint8))
        context = [
            ((), 0, 0, False),
            (("w",), 2, 0, False),
            (("w",), 4, 0, False),
            (("d",), -4 - n, 0, False),
        ]
        np.save(d / "act.npy", vectors(context))
        np.save(d / "next_act.npy", vectors(REPLAYS[n % len(REPLAYS)]))
    return root


def write_tiny_csgo(root: Path, num_spawns: int = 2) -> TinyCSGO:
    """`root/csgo.pt`, `root/csgo.yaml` and `root/spawn/`."""
    root.mkdir(parents=True, exist_ok=True)
    agent = tiny_csgo_agent()
    state_dict = {k: v.clone() for k, v in agent.state_dict().items()}
    torch.save(state_dict, root / "csgo.pt")
    (root / "csgo.yaml").write_text(AGENT_YAML)
    spawn = write_spawn_points(root / "spawn", num_spawns)
    return TinyCSGO(root / "csgo.pt", root / "csgo.yaml", spawn, state_dict)
