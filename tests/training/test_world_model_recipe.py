"""`diamond train --config-name world_model static_dataset.path=DATASET`, shrunk: one epoch of every part (the
denoiser, the reward/termination model, the actor-critic in imagination) on recorded play whose episodes end
(with their final observations, as the collector and the import write them), and no real environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from omegaconf import OmegaConf

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.data import EpisodeDataset
from diamond_wm.training.metrics import read_metrics
from diamond_wm.training.trainer import Trainer
from tests.conftest import run_cli
from tests.data.helpers import random_episode

SPEC = ActionSpec.discrete(3, ["left", "right", "jump"])
PARTS = ("denoiser", "rew_end_model", "actor_critic")
TINY = [
    "agent=tiny",
    "env.train.size=16",
    "common.devices=cpu",
    "common.seed=0",
    "training.num_final_epochs=1",
    "evaluation.every=1",
    *[f"{p}.training.{k}={v}" for p in PARTS for k, v in (("steps_first_epoch", 2), ("batch_size", 2))],
]


def recorded_play(root: Path) -> Path:
    """train/: episodes that end (the game over: `end`), are cut (`trunc`), and one still going; test/: one that
    ends. Ended and cut episodes keep their final observation."""
    kinds = {"train": [{"end": True}, {"trunc": True}, {}, {"end": True}], "test": [{"end": True}]}
    for split, episodes in kinds.items():
        ds = EpisodeDataset(root / split, action_spec=SPEC)
        for i, flags in enumerate(episodes):
            ds.add_episode(random_episode(9 + i, size=16, seed=i, num_actions=3, **flags))
    return root


def test_one_epoch_of_every_part_on_recorded_play(tmp_path, no_real_env, caplog):
    source = recorded_play(tmp_path / "play")
    assert EpisodeDataset(source / "train").load_episode(0).final_observation is not None
    cfg = to_trainer_config(
        compose_trainer_config([f"static_dataset.path={source}", *TINY], config_name="world_model")
    )
    caplog.set_level(logging.INFO)
    trainer = Trainer(cfg, tmp_path / "run", show_progress=False)
    assert trainer.train_env is None and trainer.test_env is None and trainer.agent.action_spec == SPEC
    assert trainer.train_dataset.counts_end[1] == 2  # the ends the reward/termination model learns
    trainer.run()
    run = tmp_path / "run"
    state = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
    assert state["epoch"] == 1 and {k.split(".", 1)[0] for k in state["agent"]} == set(PARTS)
    [epoch] = [m for m in read_metrics(run / "metrics.jsonl") if m.get("epoch") == 1]
    assert all(epoch[f"{p}/num_updates"] == 2 for p in PARTS)
    assert "test/denoiser/loss_denoising" in epoch and "test/rew_end_model/loss_total" in epoch
    assert json.loads((run / "FINISHED").read_text()).keys() == {
        k for k in epoch if k.startswith("test/")
    }  # the final test losses: the last epoch's
    assert OmegaConf.load(run / "config" / "trainer.yaml").env.type == "recorded"
    assert caplog.messages[-1].startswith("run finished after 1 epoch: test losses denoiser ")


def test_the_recipe_through_the_cli_into_a_log_file(tmp_path):
    source = recorded_play(tmp_path / "play")
    run = tmp_path / "run"
    res = run_cli(
        "train", "--config-name", "world_model", f"static_dataset.path={source}", *TINY,
        f"hydra.run.dir={run}", cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    log = res.stderr  # a pipe: no progress bar, one line per phase
    assert "\r" not in log
    assert log.count("device: cpu") == 1
    assert log.count("EpisodeDataset('static train'") == 1
    for part in PARTS:
        assert log.count(f"train {part}: 2 updates in ") == 1, part
    assert "run finished after 1 epoch: test losses denoiser " in log.splitlines()[-1]
    assert (run / "FINISHED").is_file()
