"""Tiny run folders for the play and eval tests: a real `Trainer` run on Catch with very small networks."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch

TINY_AGENT = [
    "agent.denoiser.inner_model.cond_channels=16",
    "agent.denoiser.inner_model.depths=[1,1]",
    "agent.denoiser.inner_model.channels=[8,8]",
    "agent.denoiser.inner_model.attn_depths=[0,0]",
    "agent.rew_end_model.lstm_dim=16",
    "agent.rew_end_model.cond_channels=8",
    "agent.rew_end_model.depths=[1,1]",
    "agent.rew_end_model.channels=[8,8]",
    "agent.rew_end_model.attn_depths=[0,0]",
    "agent.actor_critic.lstm_dim=16",
    "agent.actor_critic.channels=[8,8,8,8]",
]

TINY_SCHEDULE = [
    "env=catch",
    "agent=small",
    "env.train.size=16",
    "common.devices=cpu",
    "common.seed=0",
    "collection.train.num_steps_total=80",  # 40 first, then 2 collecting epochs of 20
    "collection.train.first_epoch.min=40",
    "collection.train.first_epoch.max=40",
    "collection.train.steps_per_epoch=20",
    "collection.test.num_episodes=1",
    "collection.test.num_final_episodes=3",
    "training.num_final_epochs=0",
    "evaluation.every=1",
    "checkpointing.save_agent_every=1",
    "denoiser.training.steps_first_epoch=1",
    "denoiser.training.steps_per_epoch=1",
    "denoiser.training.batch_size=2",
    "rew_end_model.training.steps_first_epoch=1",
    "rew_end_model.training.steps_per_epoch=1",
    "rew_end_model.training.batch_size=2",
    "actor_critic.training.steps_first_epoch=1",
    "actor_critic.training.steps_per_epoch=1",
    "actor_critic.training.batch_size=2",
    "world_model_env.horizon=3",
]


@contextmanager
def one_thread():
    """Torch on one thread (much faster for these tiny models on a busy 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def train_tiny_run(run_dir: Path, extra: tuple[str, ...] = ()) -> Path:
    """Train (seconds) and finish a tiny Catch run in `run_dir`."""
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
    from diamond_wm.training.trainer import Trainer

    cfg = to_trainer_config(compose_trainer_config([*TINY_SCHEDULE, *TINY_AGENT, *extra]))
    with one_thread():
        Trainer(cfg, run_dir, show_progress=False).run()
    return run_dir
