from __future__ import annotations

import pytest

from diamond_wm.config.compose import compose_trainer_config
from diamond_wm.config.errors import ConfigError


@pytest.mark.parametrize(
    "override, key, accepted",
    [
        ("collection.train.num_steps_total=-5", "collection.train.num_steps_total", "an integer >= 0"),
        ("denoiser.training.steps_per_epoch=-1", "denoiser.training.steps_per_epoch", "an integer >= 0"),
        ("denoiser.training.batch_size=0", "denoiser.training.batch_size", "an integer >= 1"),
        ("actor_critic.training.batch_size=0", "actor_critic.training.batch_size", "an integer >= 1"),
        ("denoiser.sigma_distribution.sigma_min=30", "denoiser.sigma_distribution.sigma_max", "> sigma_min"),
        (
            "world_model_env.diffusion_sampler.sigma_max=0.001",
            "world_model_env.diffusion_sampler.sigma_max",
            "> sigma_min",
        ),
        ("denoiser.training.sample_weights=[0.5,0.6]", "denoiser.training.sample_weights", "summing to 1"),
        (
            "rew_end_model.training.sample_weights=[1.5,-0.5]",
            "rew_end_model.training.sample_weights",
            "non-negative",
        ),
        ("common.devices=gpu", "common.devices", "'cpu', 'mps'"),
        ("common.devices=-1", "common.devices", "an int"),
        ("world_model_env.horizon=0", "world_model_env.horizon", "an integer >= 1"),
        ("world_model_env.horizon=-3", "world_model_env.horizon", "an integer >= 1"),
        ("world_model_env.diffusion_sampler.order=3", "world_model_env.diffusion_sampler.order", "1 (Euler)"),
        (
            "world_model_env.diffusion_sampler.num_steps_denoising=0",
            "world_model_env.diffusion_sampler.num_steps_denoising",
            ">= 1",
        ),
        ("collection.train.epsilon=1.5", "collection.train.epsilon", "[0, 1]"),
        ("wandb.mode=sometimes", "wandb.mode", "online | offline | disabled"),
        ("env.type=snes", "env.type", "atari | gym | csgo | recorded"),
        ("env=recorded", "static_dataset.path", "env.type=recorded has no environment to play"),
        ("env.keymap=csgo", "env.keymap", "csgo (keyboard and mouse) goes with env.type=csgo"),
        (
            "env.keymap=atari/PongNoFrameskip-v4",
            "env.keymap",
            "or atari/BreakoutNoFrameskip-v4 (the Atari keymap",
        ),
        (
            "agent.denoiser.inner_model.cond_channels=255",
            "agent.denoiser.inner_model.cond_channels",
            "multiple",
        ),
        ("agent.actor_critic.down=[1,1]", "agent.actor_critic.down", "as long as"),
        ("agent.actor_critic.value_scale=0", "agent.actor_critic.value_scale", "a number > 0"),
        ("collection.train.first_epoch.max=10", "collection.train.first_epoch.max", ">= min"),
        ("denoiser.optimizer.lr=0", "denoiser.optimizer.lr", "> 0"),
        ("evaluation.every=0", "evaluation.every", ">= 1"),
        ("evaluation.max_test_batches=0", "evaluation.max_test_batches", ">= 1"),
    ],
)
def test_invalid_values_name_key_value_and_what_is_accepted(override, key, accepted):
    with pytest.raises(ConfigError) as info:
        compose_trainer_config([override])
    err = info.value
    assert err.key == key
    message = str(err)
    assert key in message and accepted in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "override",
    [
        "common.devices=cpu",
        "common.devices=0",
        "common.devices=[0,1]",
        "common.devices=all",
        "common.devices=mps",
        "common.devices=cuda:1",
        "denoiser.training.sample_weights=null",
        "checkpointing.num_to_keep=null",
        "collection.train.first_epoch.max=null",
        "denoiser.training.max_grad_norm=null",
    ],
)
def test_valid_values_pass(override):
    compose_trainer_config([override])  # availability of devices is checked later, when a run starts
