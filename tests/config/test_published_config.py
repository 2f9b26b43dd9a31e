"""A published run's config/trainer.yaml read for its values: `_target_` keys dropped, `eval` values computed in
code (never evaluated), other interpolations resolved, keys diamond-wm lacks logged and ignored."""

from __future__ import annotations

import logging
import math
import re

import pytest
from omegaconf import OmegaConf

from diamond_wm.config.derived import rew_end_seq_length
from diamond_wm.config.published import is_published_config, read_published_trainer_config
from diamond_wm.config.trainer import TrainerConfig
from tests.published_run import PUBLISHED_CONFIG, ddpm_branch_config


def write(tmp_path, text: str):
    path = tmp_path / "trainer.yaml"
    path.write_text(text.replace("{env_id}", "PongNoFrameskip-v4").replace("{test_max_steps}", "null"))
    return path


def test_values_of_a_published_config(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="diamond_wm.config.published")
    cfg = read_published_trainer_config(write(tmp_path, PUBLISHED_CONFIG))
    assert math.isinf(cfg.world_model_env.diffusion_sampler.s_tmax)
    assert cfg.world_model_env.diffusion_sampler.sigma_min == 2e-3 and cfg.denoiser.optimizer.lr == 1e-4
    assert rew_end_seq_length(cfg) == 15 + 4  # the published `eval` expression, computed in code
    assert (
        cfg.rew_end_model.training.sample_weights
        == cfg.actor_critic.training.sample_weights
        == [0.1] * 3 + [0.7]
    )
    assert (
        cfg.env.test.id == cfg.env.train.id == "PongNoFrameskip-v4"
        and cfg.env.keymap == "atari/PongNoFrameskip-v4"
    )
    assert cfg.env.type == "atari" and cfg.env.test.done_on_life_loss is False
    assert cfg.agent.actor_critic.img_size == 64 and cfg.agent.rew_end_model.img_channels == 3
    assert (
        cfg.agent.actor_critic.channels == [4, 4, 8, 8] and cfg.agent.denoiser.inner_model.cond_channels == 16
    )
    assert cfg.common.devices is None and cfg.common.resume is False  # the run's GPU 0 is not this machine's
    assert cfg.training.num_workers_data_loaders == 0 and cfg.training.compile_wm is True
    assert "common.devices=0 was the run's machine" in caplog.text


def test_eval_values_are_recognised_by_their_text_not_evaluated(tmp_path, caplog):
    text = PUBLISHED_CONFIG.replace(
        """s_tmax: ${eval:'float("inf")'}""", "s_tmax: ${eval:'__import__(\"os\").getcwd()'}"
    )
    text = text.replace("  horizon: 15\n", "  horizon: 15\n  extra: ${eval:'1 + 1'}\n")
    text = text.replace(
        "seq_length: ${eval:'${world_model_env.horizon} +",
        "seq_length: ${eval:'2 * ${world_model_env.horizon} +",
    )
    with caplog.at_level(logging.WARNING, logger="diamond_wm.config.published"):
        cfg = read_published_trainer_config(write(tmp_path, text))
    assert math.isinf(
        cfg.world_model_env.diffusion_sampler.s_tmax
    )  # diamond-wm's value, not the expression's
    assert (
        "world_model_env.diffusion_sampler.s_tmax is '__import__(\"os\").getcwd()' in this file"
        in caplog.text
    )
    assert "world_model_env.extra=${eval:'1 + 1'}: an `eval` value diamond-wm does not compute" in caplog.text
    assert "rew_end_model.training.seq_length is '2 * ${world_model_env.horizon}" in caplog.text
    assert rew_end_seq_length(cfg) == 19


def test_keys_diamond_wm_lacks_are_named_and_ignored(tmp_path, caplog):
    text = PUBLISHED_CONFIG.replace("common:\n  devices: 0\n", "common:\n  device: cuda:0\n")
    text = text.replace("collection:\n", "collection:\n  path_to_static_dataset: null\n")
    with caplog.at_level(logging.INFO, logger="diamond_wm.config.published"):
        cfg = read_published_trainer_config(write(tmp_path, text))
    assert (
        "keys not used by diamond-wm (ignored): common.device, collection.path_to_static_dataset"
        in caplog.text
    )
    assert cfg.common.devices is None


def test_a_ddpm_branch_config_reads_as_a_ddpm_world_model(tmp_path):
    cfg = read_published_trainer_config(write(tmp_path, ddpm_branch_config(PUBLISHED_CONFIG)))
    assert cfg.agent.denoiser.parameterisation == "ddpm" and cfg.agent.denoiser.sigma_offset_noise == 0.3
    assert cfg.world_model_env.diffusion_sampler.num_steps_denoising == 2  # its ddpm_sampler's
    assert cfg.denoiser.training.num_autoregressive_steps == 0  # it trains on one-step segments
    assert cfg.static_dataset.path is None and cfg.common.devices is None
    static = ddpm_branch_config(PUBLISHED_CONFIG).replace(
        "path_to_static_dataset: null", "path_to_static_dataset: /data/pong"
    )
    assert read_published_trainer_config(write(tmp_path, static)).static_dataset.path == "/data/pong"


@pytest.mark.parametrize(
    "change, message",
    [
        (
            ("num_train_timesteps: 1000", "num_train_timesteps: 500"),
            "agent.denoiser.num_train_timesteps=500: diamond-wm's DDPM denoiser has 1000 training timesteps",
        ),
        (
            ("models.diffusion.DDPMDenoiserConfig", "models.diffusion.DDPMUpsamplerConfig"),
            "agent.denoiser is a models.diffusion.DDPMUpsamplerConfig: of the DDPM classes, diamond-wm reads "
            "DDPMDenoiserConfig",
        ),
    ],
)
def test_a_ddpm_denoiser_diamond_wm_lacks_is_refused_in_one_line(tmp_path, change, message):
    text = ddpm_branch_config(PUBLISHED_CONFIG).replace(*change)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_published_trainer_config(write(tmp_path, text))


def test_bad_values_and_broken_interpolations_name_the_file(tmp_path):
    bad = write(tmp_path, PUBLISHED_CONFIG.replace("  horizon: 15\n", "  horizon: 0\n"))
    with pytest.raises(
        ValueError, match=r"trainer.yaml: invalid config: world_model_env.horizon=0: expected an integer >= 1"
    ):
        read_published_trainer_config(bad)
    broken = write(
        tmp_path, PUBLISHED_CONFIG.replace("${denoiser.training.sample_weights}", "${nowhere.weights}")
    )
    with pytest.raises(ValueError, match="cannot resolve .*trainer.yaml"):
        read_published_trainer_config(broken)


def test_ours_is_not_taken_for_a_published_config(tmp_path):
    ours = tmp_path / "ours.yaml"
    ours.write_text(OmegaConf.to_yaml(OmegaConf.structured(TrainerConfig())))  # what our runs write
    assert not is_published_config(ours)
    assert is_published_config(write(tmp_path, PUBLISHED_CONFIG))
