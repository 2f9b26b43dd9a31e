"""A static-dataset run takes its actions from the dataset: it builds no real environment."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from diamond_wm.config.actions import ActionSpec, read_action_spec
from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.data import EpisodeDataset
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import save_agent
from diamond_wm.training import build
from diamond_wm.training.trainer import Trainer
from tests.data.helpers import random_episode
from tests.training.test_train_cli import CATCH

SPEC = ActionSpec.discrete(5, ["A", "B", "C", "D", "E"])  # Catch, the configured game, has 3


def static_dataset(root: Path) -> Path:
    for split, seeds in (("train", range(3)), ("test", [3])):
        ds = EpisodeDataset(root / split, action_spec=SPEC)
        for seed in seeds:
            ds.add_episode(random_episode(12, size=16, end=True, seed=seed, num_actions=5))
    return root


def tiny_static_config(path: Path, *extra: str):
    overrides = [
        *CATCH,
        f"static_dataset.path={path}",
        "evaluation.should=false",
        "training.num_final_epochs=1",
        *extra,
    ]
    return to_trainer_config(compose_trainer_config(overrides))


def test_a_static_run_builds_no_env_and_takes_the_datasets_actions(tmp_path, no_real_env):
    source = static_dataset(tmp_path / "static")
    before = sorted(p.relative_to(source) for p in source.rglob("*"))
    trainer = Trainer(tiny_static_config(source), tmp_path / "run", show_progress=False)
    assert trainer.train_env is None and trainer.test_env is None
    assert trainer.agent.action_spec == SPEC and trainer.agent.num_actions == 5
    trainer.run()
    run = tmp_path / "run"
    assert read_action_spec(run / "config" / "action_spec.json") == SPEC  # the run folder records it
    assert json.loads((run / "FINISHED").read_text()) == {}  # no test episodes, as published
    assert sorted(p.relative_to(source) for p in source.rglob("*")) == before  # read-only


@pytest.mark.filterwarnings(
    "error::UserWarning"
)  # it runs on the meta device, without torch's warning for every tensor
def test_initialization_is_checked_against_the_datasets_actions(tmp_path, no_real_env, caplog):
    source = static_dataset(tmp_path / "static")
    cfg = tiny_static_config(source)
    caplog.set_level(logging.INFO)
    three = save_agent(tmp_path / "three.pt", Agent(cfg.agent, 3))
    cfg.initialization.path_to_ckpt = str(three)
    with pytest.raises(ValueError) as e:
        build.check_initialization(cfg)
    assert str(e.value) == (
        f"initialization.path_to_ckpt={three} has 3 actions but static_dataset.path={source} has 5 actions: "
        "a checkpoint of another game?"
    )
    five = save_agent(tmp_path / "five.pt", Agent(cfg.agent, 5))
    cfg.initialization.path_to_ckpt = str(five)
    build.check_initialization(cfg)  # fits: no error, no env
    assert "EpisodeDataset(" not in caplog.text  # read quietly: the run logs its datasets, once


def test_a_dataset_without_a_recorded_spec_gives_the_actions_of_its_episodes(tmp_path, no_real_env):
    source = static_dataset(tmp_path / "static")
    for split in ("train", "test"):
        (source / split / "action_spec.json").unlink()  # as the published code writes datasets
    top = max(int(EpisodeDataset(source / "train").load_episode(i).act.max()) for i in range(3))
    trainer = Trainer(tiny_static_config(source), tmp_path / "run", show_progress=False)
    trainer.close()
    assert trainer.agent.action_spec == ActionSpec.discrete(top + 1)
    assert not (source / "train" / "action_spec.json").exists()
    assert torch.equal(
        torch.tensor(
            json.loads((tmp_path / "run" / "config" / "action_spec.json").read_text())["num_actions"]
        ),
        torch.tensor(top + 1),
    )


def test_a_static_run_ends_with_its_test_losses_not_a_return(tmp_path, no_real_env, caplog, monkeypatch):
    source = static_dataset(tmp_path / "static")
    cfg = tiny_static_config(source, "evaluation.should=true", "evaluation.every=1")
    trainer = Trainer(cfg, tmp_path / "run", show_progress=False)
    passes = []
    monkeypatch.setattr(
        "diamond_wm.training.trainer.run_test_losses", lambda *a, **k: passes.append(1) or {**LOSSES}
    )
    caplog.set_level(logging.INFO)
    trainer.run()
    assert len(passes) == 1  # the last epoch's test losses are the final ones: not computed twice
    assert json.loads((tmp_path / "run" / "FINISHED").read_text()) == LOSSES
    assert "run finished after 1 epoch: test losses denoiser 0.25 | rew/end 0.5" in caplog.messages
    assert not any("test episodes" in m for m in caplog.messages)


def test_a_static_run_without_evaluation_says_so_at_the_end(tmp_path, no_real_env, caplog):
    caplog.set_level(logging.INFO)
    Trainer(
        tiny_static_config(static_dataset(tmp_path / "static")), tmp_path / "run", show_progress=False
    ).run()
    assert caplog.messages[-1] == "run finished after 1 epoch (no test episodes, no test losses)"


LOSSES = {"test/denoiser/loss_denoising": 0.25, "test/rew_end_model/loss_total": 0.5}
