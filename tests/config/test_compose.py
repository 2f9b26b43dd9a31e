from __future__ import annotations

import dataclasses
import json
import math

import pytest
from omegaconf import OmegaConf

from diamond_wm.config.agent import AgentConfig
from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.derived import denoiser_seq_length, rew_end_seq_length
from diamond_wm.config.trainer import TrainerConfig


def test_packaged_yaml_equals_dataclass_defaults():
    # The YAML presets are what users read; the dataclasses are the schema. They must not drift apart.
    composed = OmegaConf.to_container(compose_trainer_config(), resolve=True)
    defaults = dataclasses.asdict(TrainerConfig())
    defaults["env"]["keymap"] = "atari/BreakoutNoFrameskip-v4"  # the YAML derives it from the game id
    assert composed == defaults


def test_published_override_keys_work_unchanged(tmp_path):
    cfg = to_trainer_config(
        compose_trainer_config(
            [
                "env.train.id=PongNoFrameskip-v4",
                "common.devices=0",
                "world_model_env.diffusion_sampler.num_steps_denoising=5",
                "training.model_free=true",
                f"static_dataset.path={tmp_path}",
                f"initialization.path_to_ckpt={tmp_path / 'agent_epoch_01000.pt'}",
                "collection.train.epsilon=0.05",
                "denoiser.training.batch_size=16",
                "wandb.mode=online",
            ]
        )
    )
    assert cfg.env.train.id == cfg.env.test.id == "PongNoFrameskip-v4"
    assert cfg.common.devices == 0
    assert cfg.world_model_env.diffusion_sampler.num_steps_denoising == 5
    assert cfg.training.model_free is True
    assert cfg.static_dataset.path == str(tmp_path)
    assert cfg.initialization.path_to_ckpt.endswith("agent_epoch_01000.pt")
    assert cfg.collection.train.epsilon == 0.05
    assert cfg.denoiser.training.batch_size == 16
    assert cfg.wandb.mode == "online"


def test_defaults_are_the_papers_schedule():
    cfg = to_trainer_config(compose_trainer_config())
    assert cfg.collection.train.num_steps_total == 100_000
    assert cfg.collection.train.steps_per_epoch == 100
    assert (cfg.collection.train.first_epoch.min, cfg.collection.train.first_epoch.max) == (5000, 10000)
    assert cfg.collection.train.first_epoch.threshold_rew == 10
    assert cfg.collection.train.epsilon == 0.01
    assert cfg.training.num_final_epochs == 50
    assert cfg.evaluation.every == 10
    assert cfg.collection.test.num_episodes == 4
    assert cfg.collection.test.num_final_episodes == 100
    assert (cfg.checkpointing.save_agent_every, cfg.checkpointing.num_to_keep) == (5, 11)
    for comp, first in ((cfg.denoiser, 10_000), (cfg.rew_end_model, 10_000), (cfg.actor_critic, 5000)):
        assert comp.training.steps_first_epoch == first
        assert comp.training.steps_per_epoch == 400
        assert comp.training.batch_size == 32
        assert comp.training.lr_warmup_steps == 100
        assert comp.training.sample_weights == [0.1, 0.1, 0.1, 0.7]
        assert comp.optimizer.lr == 1e-4
    assert cfg.denoiser.training.max_grad_norm == 1.0
    assert cfg.rew_end_model.training.max_grad_norm == cfg.actor_critic.training.max_grad_norm == 100.0
    assert cfg.denoiser.optimizer.weight_decay == cfg.rew_end_model.optimizer.weight_decay == 1e-2
    assert cfg.actor_critic.optimizer.weight_decay == 0.0
    loss = cfg.actor_critic.actor_critic_loss
    assert (loss.gamma, loss.lambda_, loss.weight_entropy_loss) == (0.985, 0.95, 0.001)
    sampler = cfg.world_model_env.diffusion_sampler
    assert (sampler.num_steps_denoising, sampler.order, sampler.sigma_min, sampler.sigma_max) == (
        3,
        1,
        2e-3,
        5.0,
    )
    assert math.isinf(sampler.s_tmax)
    assert cfg.world_model_env.horizon == 15
    sigma = cfg.denoiser.sigma_distribution
    assert (sigma.loc, sigma.scale, sigma.sigma_min, sigma.sigma_max) == (-0.4, 1.2, 2e-3, 20.0)
    assert denoiser_seq_length(cfg) == 6
    assert rew_end_seq_length(cfg) == 19


def test_agent_defaults_match_published_checkpoint_config(reference_dir):
    published = json.loads((reference_dir / "checkpoint_keys_atari.json").read_text())["config"]

    def strip_targets(node):
        if isinstance(node, dict):
            return {k: strip_targets(v) for k, v in node.items() if k != "_target_"}
        return node

    ours = dataclasses.asdict(to_trainer_config(compose_trainer_config()).agent)
    assert ours.pop("upsampler") is None  # the CS:GO world model's part (published csgo branch)
    ours = {
        k: {kk: vv for kk, vv in v.items() if kk != "num_actions"}
        for k, v in ours.items()
        if k != "num_actions"
    }
    ours["denoiser"]["inner_model"].pop("num_actions")
    # Ours only (the published DDPM denoiser is on another branch): EDM by default.
    assert ours["denoiser"].pop("parameterisation") == "edm"
    # The csgo branch's keys, off for the Atari networks.
    den = ours["denoiser"]
    assert (den.pop("noise_previous_obs"), den.pop("upsampling_factor"), den.pop("noise_cond_embedding")) == (
        False,
        None,
        None,
    )
    # Ours only: the critic head's output scale, 1 as published.
    assert ours["actor_critic"].pop("value_scale") == 1.0
    assert ours == strip_targets(published)
    assert isinstance(AgentConfig().denoiser.inner_model.depths, list)


def test_composition_works_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = to_trainer_config(compose_trainer_config(["env.train.id=PongNoFrameskip-v4"]))
    assert cfg.env.test.id == "PongNoFrameskip-v4"


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("env.train.idd=PongNoFrameskip-v4", "unknown key 'env.train.idd' (did you mean 'env.train.id'?)"),
        ("training.model_freee=true", "did you mean 'training.model_free'"),
        ("+foo=1", "unknown key 'foo'"),
        ("denoiser.training.batch_size=abc", "denoiser.training.batch_size: value 'abc' is not an integer"),
        ("training.model_free=maybe", "training.model_free"),
        ("agent=huge", "invalid config: agent=huge: expected one of csgo, ddpm, default, demo, small, tiny"),
        ("env=my-snes", "invalid config: env=my-snes: expected one of atari, catch, csgo, recorded"),
    ],
)
def test_unknown_keys_and_wrong_types_fail_in_one_line(override, fragment):
    with pytest.raises(ValueError) as info:
        compose_trainer_config([override])
    message = str(info.value)
    assert fragment in message
    assert "\n" not in message
