"""A static dataset the configured networks cannot take (frames of another size or kind, multi-hot actions for an
actor-critic) is one error line naming the key to change, before a run starts; not a shape error mid-epoch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from diamond_wm.cli.hydra_run import check_run_overrides
from diamond_wm.config.actions import ActionGroup, ActionSpec
from diamond_wm.data import Episode, EpisodeDataset
from diamond_wm.training.trainer import Trainer
from tests.training.test_static_run import CATCH, tiny_static_config

KEYS = ActionSpec.multi_hot([ActionGroup("keys", ("w", "a", "s", "d"))])
THREE = ActionSpec.discrete(3)


def recorded_play(root: Path, height: int, width: int, spec: ActionSpec = THREE) -> Path:
    g = torch.Generator().manual_seed(0)
    ds = EpisodeDataset(root / "train", action_spec=spec)
    for n in (10, 12):
        act = (
            torch.randint(0, spec.num_action_dims, (n,), generator=g)
            if spec.is_discrete
            else (torch.rand(n, spec.num_action_dims, generator=g) < 0.3).float()
        )
        ds.add_episode(
            Episode(
                obs=torch.randint(0, 256, (n, 3, height, width), dtype=torch.uint8, generator=g),
                act=act,
                rew=torch.zeros(n),
                end=torch.zeros(n, dtype=torch.uint8),
                trunc=torch.zeros(n, dtype=torch.uint8),
            )
        )
    return root


def refusal(path: Path, *extra: str) -> str:
    with pytest.raises(ValueError) as e:
        check_run_overrides([*CATCH, f"static_dataset.path={path}", *extra], config_name="trainer")
    assert "\n" not in str(e.value)
    return str(e.value)


def test_frames_of_another_size_name_env_train_size(tmp_path):
    path = recorded_play(tmp_path / "play", 16, 16)
    check_run_overrides([*CATCH, f"static_dataset.path={path}"], config_name="trainer")  # 16: fits
    assert refusal(path, "env.train.size=32") == (
        f"static_dataset.path={path} has 16x16 frames but agent.rew_end_model.img_size=32: set "
        "env.train.size=16 (the img_size of the packaged agent presets)"
    )


def test_frames_that_are_not_square_leave_the_denoiser_alone(tmp_path):
    path = recorded_play(tmp_path / "play", 16, 24)
    assert refusal(path) == (
        f"static_dataset.path={path} has 16x24 frames but agent.rew_end_model takes square frames (16x16): "
        "import the dataset at a square size (diamond dataset import --size NxN), or train the denoiser alone: "
        "agent.rew_end_model=null agent.actor_critic=null"
    )
    check_run_overrides(
        [*CATCH, f"static_dataset.path={path}", "agent.rew_end_model=null", "agent.actor_critic=null"],
        config_name="trainer",
    )


def test_frames_of_other_channels_and_multi_hot_actions(tmp_path):
    path = recorded_play(tmp_path / "play", 16, 16)
    assert refusal(path, "agent.denoiser.inner_model.img_channels=1") == (
        f"static_dataset.path={path} has frames of 3 channels but agent.denoiser.inner_model.img_channels=1: "
        "expected 3"
    )
    keys = recorded_play(tmp_path / "keys", 16, 16, KEYS)
    assert refusal(keys) == (
        f"static_dataset.path={keys} has {KEYS.describe()}, but the actor-critic chooses among discrete actions: "
        "train the world model alone, agent.actor_critic=null"
    )
    check_run_overrides(
        [*CATCH, f"static_dataset.path={keys}", "agent.actor_critic=null"], config_name="trainer"
    )


def test_the_trainer_refuses_before_the_run_has_a_config(tmp_path):
    path = recorded_play(tmp_path / "play", 16, 16)
    cfg = tiny_static_config(path, "env.train.size=32")
    with pytest.raises(ValueError, match="has 16x16 frames but agent.rew_end_model.img_size=32"):
        Trainer(cfg, tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run" / "config").exists()
