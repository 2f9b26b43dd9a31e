"""`diamond dataset spawn` for any world model (discrete actions, one resolution, no upsampler) and `diamond play
--checkpoint CKPT --spawn DIR` playing it: the spawn points in turn, their recorded actions replayed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from diamond_wm.cli.main import main
from diamond_wm.config.actions import read_action_spec
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.frames import to_float_frames
from diamond_wm.interactive.recorded_launch import build_spawn_play_session
from diamond_wm.loading.agent import LoadError, load_checkpoint
from diamond_wm.loading.agent_config import AgentRequest
from diamond_wm.loading.csgo import load_csgo
from tests.conftest import run_cli
from tests.play.static_runs import SPEC, WORLD_MODEL_ONLY, train_static_run, write_recorded_game
from tests.play.tiny_csgo import write_tiny_csgo

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    return write_recorded_game(tmp_path_factory.mktemp("game") / "mygame")


@pytest.fixture(scope="module")
def checkpoint(game, tmp_path_factory):
    run = train_static_run(tmp_path_factory.mktemp("wm") / "run", game, *WORLD_MODEL_ONLY)
    return run / "checkpoints" / "agent_versions" / "agent_epoch_00001.pt"


@pytest.fixture(scope="module")
def spawn(game, tmp_path_factory):
    out = tmp_path_factory.mktemp("spawn") / "spawn"
    res = run_cli("dataset", "spawn", str(game), str(out), "--count", "3", "--replay-steps", "5")
    assert res.returncode == 0, res.stderr
    assert f"wrote 3 spawn points -> {out}" in res.stdout
    return out


def test_spawn_points_of_discrete_actions_at_one_resolution(spawn, game):
    assert read_action_spec(spawn / "action_spec.json") == SPEC
    test = EpisodeDataset(game / "test")
    for k in range(3):
        d = spawn / str(k)
        assert sorted(p.name for p in d.iterdir()) == ["act.npy", "low_res.npy", "next_act.npy"]
        low, act, nxt = (np.load(d / f) for f in ("low_res.npy", "act.npy", "next_act.npy"))
        assert low.dtype == np.uint8 and low.shape == (4, 3, 16, 16)
        assert act.dtype == np.int64 and act.shape == (4,) and 1 <= len(nxt) <= 5
        episode = test.load_episode(k % 2)  # the test episodes in turn
        starts = [s for s in range(len(episode) - 4) if np.array_equal(episode.obs[s : s + 4].numpy(), low)]
        assert len(starts) == 1, "the frames are 4 consecutive recorded steps"
        s = starts[0]
        assert np.array_equal(act, episode.act[s : s + 4].numpy())
        assert np.array_equal(nxt, episode.act[s + 4 : s + 4 + 5].numpy())  # what followed


def test_the_world_model_plays_from_its_spawn_points_in_turn(spawn, checkpoint):
    loaded = load_checkpoint(checkpoint, require_env=False)
    session = build_spawn_play_session(loaded, spawn, spawn.parent, horizon=2, seed=0)
    assert session.controllers == ("replay", "human") and [e.name for e in session.envs] == ["wm"]
    assert session.keymap.action_names == list(SPEC.names)
    for k in (0, 1, 2, 0):  # each episode the next spawn point, also when episodes end at the horizon
        session.update()
        assert session.num_resets == len(session.finished_episodes) + 1
        acts = np.concatenate(
            (np.load(spawn / str(k) / "act.npy")[-1:], np.load(spawn / str(k) / "next_act.npy"))
        )
        assert session.replay_actions.tolist() == acts.tolist() and session.last.action == acts[0]
        session.update()
        assert session.finished_episodes[-1][2:] == (0.0, 2)  # truncated at the horizon: no reward model
    session.request_reset()
    session.reset()
    assert torch.equal(
        session.frame, to_float_frames(torch.from_numpy(np.load(spawn / "1" / "low_res.npy")[-1]))
    )


def test_the_cli_plays_spawn_points_also_of_a_loose_checkpoint(spawn, checkpoint, tmp_path):
    shot = tmp_path / "shot.png"
    res = run_cli("play", "--checkpoint", str(checkpoint), "--spawn", str(spawn), "--max-frames", "4", "--size",
                  "64", "--screenshot", str(shot), cwd=tmp_path)  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr[-2000:]
    assert "switch controller (replay / human)" in res.stdout and "a : LEFT" in res.stdout
    assert shot.stat().st_size > 1000
    loose = (
        tmp_path / "wm.pt"
    )  # no run folder: its networks are the packaged preset they fit, without absent parts
    shutil.copy(checkpoint, loose)
    assert main(["-q", "play", "--checkpoint", str(loose), "--spawn", str(spawn), "--max-frames", "2"]) == 0


def test_spawn_points_that_do_not_fit_are_one_line(spawn, checkpoint, tmp_path, capsys):
    bad = tmp_path / "bad"
    shutil.copytree(spawn, bad)
    np.save(bad / "0" / "next_act.npy", np.array([1, 9], dtype=np.int64))  # another game's action 9
    assert main(["-q", "play", "--checkpoint", str(checkpoint), "--spawn", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and f"spawn point {bad / '0'}: next_act.npy" in err[0] and "[9] out of range" in err[0]
    ), err
    assert err[0].endswith(f"(checkpoint {checkpoint} has 4 actions)")


def test_the_csgo_world_model_needs_full_resolution_spawn_points(tmp_path):
    tiny = write_tiny_csgo(tmp_path / "csgo")
    for d in tiny.spawn.iterdir():
        (d / "full_res.npy").unlink()
    with pytest.raises(LoadError) as e:
        load_csgo(tiny.checkpoint, tiny.spawn, "cpu", AgentRequest(tiny.agent_config))
    msg = str(e.value)
    assert "\n" not in msg and "lacks full_res.npy, which the upsampler starts from" in msg
    assert "diamond dataset spawn DATASET FULL_RES OUT" in msg
