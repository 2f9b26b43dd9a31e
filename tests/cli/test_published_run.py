"""Run folders and checkpoints of the published DIAMOND code through the real CLI: played, browsed, evaluated and
trained from, never resumed, never written to (every file's bytes, mode and mtime are compared)."""

from __future__ import annotations

import json
import os
import shutil

import pytest
import torch

from diamond_wm.cli.hydra_run import check_run_overrides
from diamond_wm.cli.main import main
from tests.conftest import run_cli
from tests.models.test_checkpoint import published_agent_load
from tests.play.tiny_run import TINY_SCHEDULE, one_thread
from tests.published_run import TINY_AGENT_OVERRIDES, make_published_run, snapshot, tiny_agent_state_dict


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    run = make_published_run(tmp_path_factory.mktemp("published") / "outputs" / "2024-05-01" / "12-00-00")
    return run, snapshot(run.root)


@pytest.fixture(autouse=True)
def single_thread():
    with one_thread():
        yield


def unchanged(published) -> None:
    run, before = published
    after = snapshot(run.root)
    assert after == before, sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def user_lines(stderr: str) -> list[str]:
    """stderr without log records and the ALE banner."""
    return [line for line in stderr.splitlines() if line.startswith("diamond ")]


def test_play_a_published_run_in_its_world_model(published, tmp_path):
    run, _ = published
    shot = tmp_path / "shot.png"
    res = run_cli("play", str(run.root), "--max-frames", "4", "--size", "64", "--screenshot", str(shot))
    assert res.returncode == 0, res.stderr
    assert "space : FIRE" in res.stdout and shot.stat().st_size > 0
    assert "agent_epoch_00010.pt (epoch 10) (a finished run)" in res.stderr  # newest version, .run_is_over
    unchanged(published)


def test_browse_a_published_run_including_a_dataset_without_index(published):
    run, _ = published
    res = run_cli("play", "-d", str(run.root), "--max-frames", "3", "--size", "64")
    assert res.returncode == 0, res.stderr
    assert "Controls (dataset mode):" in res.stdout
    assert "EpisodeDataset('test': 2 episodes, 44 steps" in res.stderr  # indexed from its episode files
    assert "EpisodeDataset('train': 3 episodes, 95 steps" in res.stderr
    assert not (run.root / "dataset" / "test" / "info.pt").exists()
    unchanged(published)


def test_eval_a_published_run(published):
    run, _ = published
    res = run_cli("eval", str(run.root), "-n", "1")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["checkpoint"] == str(run.newest_agent) and report["epoch"] == 10
    assert report["env_id"] == "BreakoutNoFrameskip-v4" and report["num_episodes"] == 1
    assert report["lengths"][0] <= 60  # env.test.max_episode_steps of the published config
    assert "Traceback" not in res.stderr and "Weights only load failed" not in res.stderr
    unchanged(published)


def test_resume_of_a_published_run_is_refused_in_one_line(published, tmp_path):
    run, _ = published
    res = run_cli("train", "--resume", str(run.root), cwd=tmp_path)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1, res.stderr
    line = res.stderr.strip()
    assert line.startswith(
        f"diamond train: cannot resume {run.root}: it is a run of the published DIAMOND code"
    )
    assert ".run_is_over" in line and "_target_" in line
    command = line.split("weights instead: ")[1]
    # Its game and networks, read from its config: the exact values, no placeholder to fill in.
    assert command == (
        f"diamond train initialization.path_to_ckpt={run.newest_agent} env.train.id=BreakoutNoFrameskip-v4 "
        "agent=tiny"
    )
    assert list(tmp_path.iterdir()) == []
    # The command it gives is accepted, its checkpoint checked against the networks it names.
    check_run_overrides(command.split()[2:], config_name="trainer")
    unchanged(published)


def test_train_from_a_published_run_folder(published, tmp_path):
    run, _ = published
    schedule = [a for a in TINY_SCHEDULE if not a.startswith(("env=", "agent=", "env.train.size"))]
    schedule += ["collection.train.num_steps_total=40", "collection.test.num_final_episodes=1"]
    new_run = tmp_path / "run"
    res = run_cli(
        "train",
        *schedule,
        *TINY_AGENT_OVERRIDES,
        "env.test.max_episode_steps=20",
        f"initialization.path_to_ckpt={run.root}",
        f"hydra.run.dir={new_run}",
        "--no-progress",
        cwd=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert f"initialized denoiser, rew_end_model, actor_critic from {run.newest_agent}" in res.stderr
    unchanged(published)
    # What this run writes opens with the published loader (bare state_dict, published prefixes).
    from diamond_wm.config.compose import load_run_config
    from diamond_wm.models.agent import Agent

    ours = sorted((new_run / "checkpoints" / "agent_versions").iterdir())[-1]
    agent = Agent(load_run_config(new_run / "config" / "trainer.yaml").agent, 4)
    published_agent_load(ours, agent)


def test_a_published_state_pt_is_never_unpickled(published, tmp_path, capsys):
    """A state.pt whose unpickling would make a folder: resume refused, eval runs, and the folder never appears."""
    run, _ = published
    copy = tmp_path / "run"
    shutil.copytree(run.root, copy)
    (copy / ".run_is_over").unlink()
    trap = tmp_path / "unpickled"

    class Trap:
        def __reduce__(self):
            return (os.mkdir, (str(trap),))

    torch.save({"epoch": 10, "trap": Trap()}, copy / "checkpoints" / "state.pt")
    assert main(["-q", "train", "--resume", str(copy)]) == 2
    assert (
        "it is a run of the published DIAMOND code (config/trainer.yaml with _target_ keys)"
        in capsys.readouterr().err
    )
    assert main(["-q", "eval", str(copy), "-n", "1", "--no-stdout"]) == 0
    shutil.rmtree(copy / "checkpoints" / "agent_versions")
    assert main(["-q", "eval", str(copy), "-n", "1"]) == 2
    assert "a run of the published code keeps its agents there" in capsys.readouterr().err
    assert not trap.exists()


def test_a_loose_published_checkpoint_finds_its_preset(published, tmp_path, capsys):
    run, _ = published
    loose = tmp_path / "Breakout.pt"
    shutil.copy(run.newest_agent, loose)
    args = ["eval", str(loose), "--env-id", "BreakoutNoFrameskip-v4", "-n", "1"]
    assert main([*args, "--json", str(tmp_path / "r.json"), "--no-stdout"]) == 0
    assert "the networks of the agent preset 'tiny' (64x64 frames)" in capsys.readouterr().err
    assert json.loads((tmp_path / "r.json").read_text())["num_episodes"] == 1
    assert (
        main(["-q", *args, "--agent-config", str(run.root / "config" / "trainer.yaml"), "--no-stdout"]) == 0
    )
    assert main(["-q", *args, "-o", "agent=tiny", "--no-stdout"]) == 0
    assert main(["-q", *args, "-o", "agent=small"]) == 2
    line = user_lines(capsys.readouterr().err)
    assert len(line) == 1 and "does not fit the agent config" in line[0] and "--agent-config FILE" in line[0]


def test_a_checkpoint_no_preset_fits_says_what_was_tried(tmp_path, capsys):
    from diamond_wm.config.agent import AgentConfig
    from diamond_wm.models.agent import Agent

    cfg = AgentConfig()
    cfg.actor_critic.lstm_dim = 24
    torch.save(Agent(cfg, 4).state_dict(), tmp_path / "odd.pt")
    assert main(["-q", "eval", str(tmp_path / "odd.pt"), "--env-id", "BreakoutNoFrameskip-v4"]) == 2
    (line,) = user_lines(capsys.readouterr().err)
    assert (
        "fits none of the packaged agent presets, tried default (U-Net channels [64, 64, 64, 64]); small"
        in line
    )
    assert "tiny (U-Net channels [8, 8])" in line and "-o agent=NAME -o agent.KEY=VALUE" in line


@pytest.mark.parametrize("command", ["eval", "play"])
def test_a_checkpoint_of_another_game_is_refused(published, tmp_path, command, capsys, monkeypatch):
    """A Catch agent (3 actions) on Breakout (4), a Breakout agent on Catch: one line naming both, exit code 2."""
    monkeypatch.chdir(tmp_path)  # where play would keep the steps it collects
    catch_agent = tmp_path / "catch.pt"
    torch.save(tiny_agent_state_dict(3), catch_agent)
    run, _ = published
    for ckpt, env_id, want in (
        (
            catch_agent,
            "BreakoutNoFrameskip-v4",
            f"checkpoint {catch_agent} has 3 actions but BreakoutNoFrameskip-v4 has 4",
        ),
        (
            run.newest_agent,
            "diamond_wm/Catch-v0",
            f"checkpoint {run.newest_agent} has 4 actions but diamond_wm/Catch-v0 has 3",
        ),
    ):
        target = [str(ckpt)] if command == "eval" else ["--checkpoint", str(ckpt), "--max-frames", "1"]
        assert main(["-q", command, *target, "--env-id", env_id]) == 2
        (line,) = user_lines(capsys.readouterr().err)
        assert want in line
    assert list(tmp_path.iterdir()) == [catch_agent]  # nothing collected before the check
    unchanged(published)


def test_a_dataset_of_another_game_is_named(published):
    from diamond_wm.config.published import read_yaml_raw
    from diamond_wm.data.dataset import EpisodeDataset
    from diamond_wm.interactive.contexts import dataset_misfit
    from diamond_wm.loading.agent_config import agent_yaml_config, preset_path
    from diamond_wm.models.agent import Agent

    run, _ = published
    train = EpisodeDataset(run.root / "dataset" / "train", read_only=True)
    cfg = agent_yaml_config(read_yaml_raw(preset_path("tiny")), "tiny", img_size=64)
    assert dataset_misfit(train, Agent(cfg, 4)) is None
    assert "holds action 3 but the agent has 3 actions" in dataset_misfit(train, Agent(cfg, 3))
    small = agent_yaml_config(read_yaml_raw(preset_path("tiny")), "tiny", img_size=32)
    assert "holds (3, 64, 64) frames but the agent's are (3, 32, 32)" in dataset_misfit(
        train, Agent(small, 4)
    )
