"""`--config-name atari_cpu`: a real Atari game (Krull) learned on a CPU with small networks and bf16."""

from __future__ import annotations

from dataclasses import replace

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.loading.agent_config import agent_yaml_config, preset_path, read_yaml_raw


def preset(*overrides: str) -> TrainerConfig:
    return to_trainer_config(compose_trainer_config(list(overrides), config_name="atari_cpu"))


def test_krull_at_64x64_with_the_small_networks_in_bf16():
    cfg, paper = preset(), TrainerConfig()
    assert cfg.env.type == "atari" and cfg.env.train.id == "KrullNoFrameskip-v4"
    assert cfg.env.test.id == cfg.env.train.id and cfg.env.train.size == 64
    assert replace(cfg.env.train, id=paper.env.train.id) == paper.env.train  # the paper's Atari settings
    small = agent_yaml_config(
        read_yaml_raw(preset_path("world_model_small")), "world_model_small", img_size=64
    )
    # The small networks, with clean past frames for the denoiser and a critic head scaled to the returns.
    assert cfg.agent.denoiser.noise_previous_obs is False and cfg.agent.actor_critic.value_scale == 10.0
    assert small.denoiser.noise_previous_obs is True and small.actor_critic.value_scale == 1.0
    assert cfg.agent == replace(
        small,
        denoiser=replace(small.denoiser, noise_previous_obs=False),
        actor_critic=replace(small.actor_critic, value_scale=10.0),
    )
    assert cfg.training.precision == "bf16" and cfg.common.devices == "cpu"
    assert cfg.world_model_env.diffusion_sampler.num_steps_denoising == 1
    # The paper's final evaluation: 100 test episodes.
    assert cfg.collection.test.num_final_episodes == 100 and cfg.static_dataset.path is None


def test_the_schedule_is_short_and_trains_the_world_model_first():
    cfg = preset()
    for part in (cfg.denoiser, cfg.rew_end_model, cfg.actor_critic):
        assert part.training.steps_first_epoch > part.training.steps_per_epoch
    assert cfg.collection.train.num_steps_total <= 10_000  # the paper: 100k
    # Every epoch after the first adds steps_per_epoch updates: 560 actor-critic updates in all.
    epochs = (cfg.collection.train.num_steps_total - cfg.collection.train.first_epoch.min) // (
        cfg.collection.train.steps_per_epoch
    ) + cfg.training.num_final_epochs
    updates = cfg.actor_critic.training.steps_first_epoch + epochs * cfg.actor_critic.training.steps_per_epoch
    assert updates == 60 + 25 * 20


def test_another_game_and_float32_are_overrides():
    cfg = preset("env.train.id=BoxingNoFrameskip-v4", "training.precision=fp32")
    assert cfg.env.train.id == cfg.env.test.id == "BoxingNoFrameskip-v4" and cfg.training.precision == "fp32"
