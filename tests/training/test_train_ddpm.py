"""`diamond train` with the DDPM denoiser (`agent.denoiser.parameterisation=ddpm`), through the real CLI: its loss
trains the world model and its sampler drives imagination; checkpoints hold `denoiser.noise_model.*`."""

from __future__ import annotations

import math

import torch

from diamond_wm.config.compose import load_run_config
from diamond_wm.training.metrics import read_metrics
from tests.conftest import run_cli

# Catch at 16x16 with the tiny networks: 50 initial steps, one epoch of 10 in which each component trains 2 updates
# (the actor-critic in imagination, 2 DDPM denoising steps per frame), no test episodes.
TINY_DDPM = [
    "env=catch",
    "env.train.size=16",
    "agent=tiny",
    "agent.denoiser.parameterisation=ddpm",
    "denoiser.training.num_autoregressive_steps=0",  # the paper's DDPM: 4 + 1 frames
    "world_model_env.diffusion_sampler.num_steps_denoising=2",
    "common.devices=cpu",
    "common.seed=0",
    "collection.train.num_steps_total=60",
    "collection.train.first_epoch.min=50",
    "collection.train.first_epoch.max=50",
    "collection.train.steps_per_epoch=10",
    "collection.test.num_final_episodes=0",
    "training.num_final_epochs=0",
    "evaluation.every=5",
    "checkpointing.save_agent_every=1",
] + [
    f"{c}.training.{k}={v}"
    for c in ("denoiser", "rew_end_model", "actor_critic")
    for k, v in (("steps_first_epoch", 2), ("batch_size", 2))
]


def test_a_tiny_ddpm_world_model_trains_and_imagines(tmp_path):
    run_dir = tmp_path / "run"
    res = run_cli("train", *TINY_DDPM, f"hydra.run.dir={run_dir}", "--no-progress", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    epoch1 = [m for m in read_metrics(run_dir / "metrics.jsonl") if m.get("epoch") == 1][0]
    assert epoch1["denoiser/num_updates"] == 2 and math.isfinite(epoch1["denoiser/loss_denoising"])
    assert epoch1["actor_critic/num_updates"] == 2  # its rollouts are imagined with the DDPM sampler
    assert load_run_config(run_dir / "config" / "trainer.yaml").agent.denoiser.parameterisation == "ddpm"
    agent_file = run_dir / "checkpoints" / "agent_versions" / "agent_epoch_00001.pt"
    state_dict = torch.load(agent_file, weights_only=True)
    denoiser_keys = [k for k in state_dict if k.startswith("denoiser.")]
    assert denoiser_keys and all(k.startswith("denoiser.noise_model.") for k in denoiser_keys)
