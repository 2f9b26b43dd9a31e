"""`diamond play` of runs trained on a user's own recorded game (a static dataset): the world model starts from that
dataset and no real environment is built; without actor-critic it plays under the replay and human controllers;
without reward/termination model the header says n/a and episodes end at the horizon."""

from __future__ import annotations

import shutil

import pytest
import torch

from diamond_wm.cli.main import main
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.frames import to_float_frames
from diamond_wm.interactive.commands import Command, KeyDown
from diamond_wm.interactive.launch import build_play_session
from diamond_wm.loading.agent import LoadError, load_run
from tests.conftest import run_cli
from tests.play.static_runs import (
    WORLD_MODEL_ONLY,
    no_real_env,  # noqa: F401 (fixture)
    train_static_run,
    write_recorded_game,
)

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    return write_recorded_game(tmp_path_factory.mktemp("game") / "mygame")


@pytest.fixture(scope="module")
def wm_run(game, tmp_path_factory):
    """A world model alone (no actor-critic, no reward/termination model), 2 denoising steps recorded."""
    run = tmp_path_factory.mktemp("wm") / "run"
    return train_static_run(
        run, game, *WORLD_MODEL_ONLY, "world_model_env.diffusion_sampler.num_steps_denoising=2"
    )


@pytest.fixture(scope="module")
def full_run(game, tmp_path_factory):
    """A whole agent trained on the same recorded game."""
    return train_static_run(tmp_path_factory.mktemp("full") / "run", game)


def header_text(session) -> str:
    return "\n".join(line for col in session.header() for line in col)


@pytest.mark.usefixtures("no_real_env")
def test_a_world_model_alone_starts_from_its_datasets_test_split_and_replays_it(wm_run, game):
    session = build_play_session(load_run(wm_run), wm_run, horizon=100, seed=0)
    assert [e.name for e in session.envs] == ["wm"] and session.controllers == ("replay", "human")
    assert (
        session.controller == "replay"
        and "  m      : switch controller (replay / human)" in session.controls_help()
    )
    contexts = session.envs[0].env.initial_conditions
    assert contexts.dataset.directory == game / "test"

    starts = []
    next_start = session.next_start
    session.next_start = lambda: starts.append(next_start()) or starts[-1]  # see which start the session took
    session.reset()
    episode_id, start, stop = starts[0].segment
    episode = EpisodeDataset(game / "test").load_episode(episode_id)
    assert start >= 0 and stop == start + 4 < len(episode)  # a whole context inside the episode
    assert torch.equal(session.frame, to_float_frames(episode.obs[stop - 1]))  # its recorded last frame
    replay = episode.act[stop - 1 :]
    assert torch.equal(session.replay_actions, replay)
    actions = []
    while not session.finished_episodes:
        session.step()
        actions.append(session.last.action)
    assert actions == replay.tolist()  # the recorded actions, then the episode ends: no more to replay
    assert session.finished_episodes == [("wm", "replay", 0.0, len(replay))] and session.last.trunc


@pytest.mark.usefixtures("no_real_env")
def test_human_control_without_reward_model_says_na_and_ends_at_the_horizon(wm_run):
    session = build_play_session(load_run(wm_run), wm_run, horizon=3, seed=0)
    session.handle(Command.SWITCH_CONTROLLER)
    assert session.controller == "human"
    session.handle(KeyDown("d"))  # held: RIGHT
    for _ in range(3):
        session.update()
    assert session.last.action == 2 and session.last.trunc and not session.last.end
    assert session.finished_episodes == [("wm", "human", 0.0, 3)]
    header = header_text(session)
    for line in (
        "Reward: n/a",
        "Return: n/a",
        "Done  : n/a",
        "Trunc : True",
        "Action : RIGHT",
        "Control : human",
    ):
        assert line in header, header
    session.handle(Command.SWITCH_CONTROLLER)
    assert session.controller == "replay"  # no policy to switch to
    session.update()
    resets = session.num_resets
    session.handle(Command.NEXT_ENV)  # no other environment: nothing happens
    session.update()
    assert session.num_resets == resets and session.env_name == "wm"


@pytest.mark.usefixtures("no_real_env")
def test_a_static_run_with_an_agent_offers_its_policy_too(full_run):
    session = build_play_session(load_run(full_run), full_run, horizon=3, seed=0)
    assert [e.name for e in session.envs] == ["wm"]
    assert session.controllers == ("policy", "replay", "human")
    for _ in session.controllers:
        session.update()
        assert (
            session.last is not None and session.last.value is not None
        )  # the policy's value beside any control
        assert "Reward: n/a" not in header_text(session)  # its reward model predicts rewards
        session.handle(Command.SWITCH_CONTROLLER)


@pytest.mark.usefixtures("no_real_env")
def test_the_cli_plays_a_world_model_only_run_without_a_real_game(wm_run, tmp_path, capsys):
    shot = tmp_path / "shot.png"
    assert main(["play", str(wm_run), "--max-frames", "4", "--size", "64", "--screenshot", str(shot)]) == 0
    out = capsys.readouterr().out
    assert "switch controller (replay / human)" in out and "a : LEFT" in out and "space : FIRE" in out
    assert shot.stat().st_size > 1000


def test_a_world_model_only_run_played_as_a_user_runs_it(wm_run, tmp_path):
    res = run_cli("play", str(wm_run), "--max-frames", "4", "--size", "64", cwd=tmp_path)
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "Breakout" not in res.stderr and "initial conditions:" in res.stderr  # the run's dataset, no game
    assert "switch controller (replay / human)" in res.stdout


def test_a_relative_static_path_is_looked_for_where_training_ran(game, tmp_path, monkeypatch):
    monkeypatch.chdir(game.parent)  # training ran here, with static_dataset.path=mygame
    run = game.parent / "outputs" / "2026-01-01" / "12-00-00"
    train_static_run(run, game.relative_to(game.parent), *WORLD_MODEL_ONLY)
    monkeypatch.chdir(tmp_path)  # played from elsewhere: found from the run folder's parents
    session = build_play_session(load_run(run), run)
    assert session.envs[0].env.initial_conditions.dataset.directory.resolve() == game / "test"

    moved = tmp_path / "moved" / "run"
    shutil.copytree(run, moved)  # the run away from its dataset: one line saying what to do
    with pytest.raises(LoadError) as e:
        build_play_session(load_run(moved), moved)
    msg = str(e.value)
    assert "\n" not in msg and f"trained on static_dataset.path={game.name}, which is not found" in msg
    assert msg.endswith("run this from the folder training ran in, or put the dataset back there")


@pytest.mark.usefixtures("no_real_env")
def test_play_uses_the_runs_denoising_steps_unless_told_otherwise(wm_run, tmp_path, monkeypatch):
    from diamond_wm.play.window import PlayWindow

    played = []
    monkeypatch.setattr(PlayWindow, "run", lambda self, **kw: played.append(self.app) or 0)
    for extra, steps in (((), 2), (("--denoising-steps", "1"), 1), (("--denoising-steps", "7"), 7)):
        assert main(["-q", "play", str(wm_run), *extra]) == 0
        assert played[-1].envs[0].env.world_model.sampler.cfg.num_steps_denoising == steps


def test_bad_denoising_steps_are_one_line(wm_run, capsys):
    assert main(["-q", "play", str(wm_run), "--denoising-steps", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["diamond play: error: --denoising-steps 0: expected an integer >= 1"]


def test_a_world_model_alone_given_a_real_game_plays_it_under_human_control(game, tmp_path, monkeypatch):
    from diamond_wm.config.actions import ActionSpec
    from diamond_wm.play.window import PlayWindow

    catch = write_recorded_game(tmp_path / "catch", ActionSpec.discrete(3, ["NOOP", "LEFT", "RIGHT"]))
    run = train_static_run(tmp_path / "run", catch, *WORLD_MODEL_ONLY, "env.train.size=16")
    loose = tmp_path / "wm.pt"  # outside its run folder: the game is the one given
    shutil.copy(run / "checkpoints" / "agent_versions" / "agent_epoch_00001.pt", loose)
    played, run_window = [], PlayWindow.run
    monkeypatch.setattr(
        PlayWindow, "run", lambda self, **kw: played.append(self.app) or run_window(self, **kw)
    )
    monkeypatch.chdir(tmp_path)
    argv = ["-q", "play", "--checkpoint", str(loose), "--env-id", "diamond_wm/Catch-v0", "-n", "20"]
    assert main([*argv, "--max-frames", "3"]) == 0
    session = played[0]
    assert session.controllers == ("human",) and [e.name for e in session.envs] == ["wm", "test", "train"]
    assert (
        EpisodeDataset(tmp_path / "dataset" / "wm_20").num_steps >= 20
    )  # random actions collected the starts
    assert session.t == 3 and "Reward: n/a" in header_text(session)
