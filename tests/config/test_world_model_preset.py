"""`--config-name world_model`: your own game's world model on recorded play, small (a CPU) or at the paper's
size (a GPU), with no real environment."""

from __future__ import annotations

import pytest

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.loading.agent_config import agent_yaml_config, preset_path, read_yaml_raw


def recipe(*overrides: str) -> TrainerConfig:
    return to_trainer_config(
        compose_trainer_config(["static_dataset.path=DATASET", *overrides], config_name="world_model")
    )


def networks(name: str, size: int = 64):
    return agent_yaml_config(read_yaml_raw(preset_path(name)), name, img_size=size)


def test_the_small_recipe_is_the_default_and_plays_no_game():
    cfg = recipe()
    assert cfg.env.type == "recorded" and cfg.env.keymap is None and cfg.env.train.size == 64
    assert cfg.agent == networks("world_model_small")
    assert all(getattr(cfg.agent, p) is not None for p in ("denoiser", "rew_end_model", "actor_critic"))
    # The world model trains longer in the first epoch, before the actor-critic imagines in it.
    assert cfg.denoiser.training.steps_first_epoch > cfg.denoiser.training.steps_per_epoch
    assert cfg.static_dataset.path == "DATASET" and cfg.training.num_final_epochs > 0


def test_the_paper_size_is_the_papers_networks_and_schedule():
    cfg, paper = recipe("world_model_size=paper"), TrainerConfig()
    assert cfg.agent == networks("default")
    for part in ("denoiser", "rew_end_model", "actor_critic"):
        assert getattr(cfg, part) == getattr(paper, part), part
    assert cfg.world_model_env == paper.world_model_env  # 3 denoising steps per imagined frame
    assert cfg.training.num_final_epochs == 1000 and cfg.env.type == "recorded"


def test_overrides_win_over_the_size():
    cfg = recipe(
        "world_model_size=paper", "agent=tiny", "env.train.size=32", "denoiser.training.batch_size=8"
    )
    assert cfg.agent == networks("tiny", 32) and cfg.training.num_final_epochs == 1000
    assert cfg.denoiser.training.batch_size == 8
    alone = recipe("agent.actor_critic=null")  # a world model alone
    assert alone.agent.actor_critic is None and alone.agent.rew_end_model is not None


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            ["static_dataset.path=null"],
            "invalid config: static_dataset.path=None: expected the folder of your game's recorded play",
        ),
        (["world_model_size=huge"], "invalid config: world_model_size=huge: expected one of paper, small"),
    ],
)
def test_what_the_recipe_refuses(overrides, message):
    with pytest.raises(ValueError) as e:
        recipe(*overrides)
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
