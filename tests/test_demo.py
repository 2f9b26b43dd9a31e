"""The `make demo` preset and its random baseline (the full demo takes ~6 minutes: run `make demo`)."""

from __future__ import annotations

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.derived import rew_end_seq_length
from diamond_wm.demo import random_policy_returns


def test_demo_preset_composes_from_the_paper_config():
    cfg = to_trainer_config(compose_trainer_config(config_name="demo"))
    assert cfg.env.type == "gym" and cfg.env.train.id == cfg.env.test.id == "diamond_wm/CatchDemo-v0"
    assert cfg.agent.actor_critic.img_size == cfg.agent.rew_end_model.img_size == 16
    assert cfg.collection.test.num_final_episodes == 100
    assert rew_end_seq_length(cfg) == 19  # the paper's imagination horizon is kept
    assert cfg.world_model_env.diffusion_sampler.num_steps_denoising == 1  # Catch is deterministic in-episode


def test_random_baseline_is_repeatable():
    cfg = to_trainer_config(compose_trainer_config(config_name="demo"))
    a = random_policy_returns(cfg, num_episodes=5, seed=7)
    assert len(a) == 5 and all(r in (-1.0, 1.0) for r in a)
    assert random_policy_returns(cfg, num_episodes=5, seed=7) == a
