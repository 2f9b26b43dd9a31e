"""A user's own recorded game (Breakout-like: 4 named discrete actions, rewards, ends; 16x16 frames) and tiny runs
trained on it as a static dataset, with the default env config (`env.train.id` Breakout, not this game)."""

from __future__ import annotations

from pathlib import Path

import pytest

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data import EpisodeDataset
from tests.data.helpers import random_episode
from tests.play.tiny_run import one_thread
from tests.training.test_train_cli import TINY

SPEC = ActionSpec.discrete(4, ["NOOP", "FIRE", "RIGHT", "LEFT"])
TRAIN_LENGTHS, TEST_LENGTHS = (12, 14, 10), (11, 13)
WORLD_MODEL_ONLY = ("agent.actor_critic=null", "agent.rew_end_model=null")


def write_recorded_game(root: Path, spec: ActionSpec = SPEC) -> Path:
    """ROOT/train (3 episodes) and ROOT/test (2), recording their action spec."""
    seed = 0
    for split, lengths in (("train", TRAIN_LENGTHS), ("test", TEST_LENGTHS)):
        ds = EpisodeDataset(root / split, action_spec=spec)
        for n in lengths:
            ds.add_episode(random_episode(n, size=16, end=True, seed=seed, num_actions=spec.num_action_dims))
            seed += 1
        ds.save_index()
    return root


def train_static_run(run_dir: Path, dataset: Path, *extra: str) -> Path:
    """A finished tiny run on `dataset` (2 denoiser updates; no real environment is built)."""
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
    from diamond_wm.training.trainer import Trainer

    overrides = [
        *TINY,
        "env.train.size=16",
        f"static_dataset.path={dataset}",
        "evaluation.should=false",
        "training.num_final_epochs=1",
        *extra,
    ]
    cfg = to_trainer_config(compose_trainer_config(overrides))
    with one_thread():
        Trainer(cfg, run_dir, show_progress=False).run()
    return run_dir


@pytest.fixture
def no_real_env(monkeypatch):
    """Building any real environment fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a real environment was built for a run trained on a static dataset")

    import gymnasium

    import diamond_wm.envs
    import diamond_wm.envs.factory
    import diamond_wm.interactive.launch

    for module in (diamond_wm.envs, diamond_wm.envs.factory, diamond_wm.interactive.launch):
        monkeypatch.setattr(module, "make_env", refuse)
    monkeypatch.setattr(gymnasium, "make", refuse)
