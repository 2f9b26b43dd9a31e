"""`PlaySession` driven by commands and named game keys (no front end), on a tiny trained run."""

from __future__ import annotations

import math

import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.interactive.commands import PLAY_BINDINGS, Command, Input, KeyDown, KeyUp, MouseMove
from diamond_wm.interactive.launch import build_play_session, compile_for_play
from diamond_wm.interactive.play_session import PlaySession
from diamond_wm.loading.agent import LoadError, load_run


def send(session, *inputs: Input) -> None:
    """Hand the inputs to the session, then advance it by one frame (as a front end does)."""
    for inp in inputs:
        session.handle(inp)
    session.update()


@pytest.fixture
def loaded(tiny_run):
    return load_run(tiny_run)


def make_session(loaded, base, **kwargs) -> PlaySession:
    return build_play_session(loaded, base, horizon=5, seed=0, **kwargs)


def test_commands_switch_controller_env_horizon_pause_and_step(loaded, tiny_run):
    session = make_session(loaded, tiny_run)
    assert session.bindings is PLAY_BINDINGS and not session.uses_mouse and session.error is None
    send(session)  # first frame: reset + one step in the world model, policy in control
    assert (session.env_name, session.controller, session.t) == ("wm", "policy", 1)
    assert session.frame.shape == (3, 16, 16)

    send(session, Command.SWITCH_CONTROLLER)
    assert session.controller == "human"
    send(session, Command.SWITCH_CONTROLLER)
    assert session.controller == "policy"

    send(session, Command.NEXT_ENV)
    assert session.env_name == "test" and session.t == 1  # switched, reset, one step
    send(session, Command.NEXT_ENV)
    assert session.env_name == "train"
    send(session, Command.NEXT_ENV)
    assert session.env_name == "wm"
    send(session, Command.PREV_ENV)
    assert session.env_name == "train"
    send(session, Command.PREV_ENV, Command.PREV_ENV)
    assert session.env_name == "wm"

    wm_env = session.envs[0].env
    send(session, Command.HORIZON_UP)
    assert session.horizon == 6 and wm_env.horizon == 6
    send(session, Command.HORIZON_DOWN, Command.HORIZON_DOWN)
    assert session.horizon == 4 and wm_env.horizon == 4
    for _ in range(5):
        send(session, Command.HORIZON_DOWN)
    assert session.horizon == 1  # never below 1

    send(session, Command.RESET)
    assert session.t == 1  # reset, then one step
    send(session, Command.PAUSE)
    assert session.paused
    t = session.t
    send(session)
    send(session)
    assert session.t == t  # paused: no step
    send(session, Command.STEP)
    assert session.t == t + 1 or session.t == 1  # one step (or an ended episode restarted)
    header = "\n".join(line for col in session.header() for line in col)
    assert "PAUSED" in header and "Env     : wm" in header and "Horizon : 1" in header
    send(session, Command.PAUSE)
    assert not session.paused

    before = (session.env_name, session.controller, session.horizon, session.paused)
    send(session, Command.NEXT_EPISODE, Command.FIRST_STEP, MouseMove(3, 4))  # not play inputs: ignored
    assert (session.env_name, session.controller, session.horizon, session.paused) == before


def test_human_keys_choose_the_action(loaded, tiny_run):
    session = make_session(loaded, tiny_run)
    send(session, Command.NEXT_ENV)  # real test env
    send(session, Command.SWITCH_CONTROLLER)  # human
    assert session.controller == "human" and session.env_name == "test"
    send(session, KeyDown("a"))  # hold LEFT
    assert session.keymap.action_names[session.last.action] == "LEFT"
    send(session)
    assert session.keymap.action_names[session.last.action] == "LEFT"  # still held
    send(session, KeyUp("a"), KeyDown("d"))
    assert session.keymap.action_names[session.last.action] == "RIGHT"
    send(session, KeyUp("d"))
    assert session.keymap.action_names[session.last.action] == "NOOP"
    send(session, KeyDown("d"), KeyDown("q"))
    session.release_all()  # e.g. the page lost the focus: nothing held any more
    send(session)
    assert session.keymap.action_names[session.last.action] == "NOOP" and session.pressed == set()
    header = "\n".join(line for col in session.header() for line in col)
    for label in ("Control : human", "Timestep:", "Reward:", "Return:", "Action :", "Entropy:", "Value  :"):
        assert label in header


def test_controls_help_lists_the_keys_by_name(loaded, tiny_run):
    lines = make_session(loaded, tiny_run).controls_help([("escape", "quit")])
    assert lines[:3] == ["Controls (play mode):", "  escape : quit", "  return : reset the environment"]
    assert "  m      : switch controller (policy / human)" in lines
    assert "  right  : next environment (wm -> test -> train)" in lines
    assert "  .      : pause / resume" in lines and "  e      : one step (while paused)" in lines
    assert "Game actions (human controller):" in lines and lines[-1].split() == ["(no", "key)", ":", "NOOP"]
    assert any(line.split() == ["a", ":", "LEFT"] for line in lines)


def test_recording_real_and_imagined_episodes(loaded, tmp_path):
    session = build_play_session(
        loaded,
        tmp_path,
        horizon=2,
        seed=0,
        record=True,
        store_denoising_trajectory=True,
        store_original_obs=True,
    )
    for _ in range(2):  # the world model truncates at the horizon (2), unless it ends before
        send(session)
    while not session.finished_episodes:
        send(session)
    env_name, controller, ret, length = session.finished_episodes[0]
    assert (env_name, controller) == ("wm", "policy") and length <= 2

    send(session, Command.NEXT_ENV)  # real test env: Catch episodes last 23 steps
    while len(session.finished_episodes) < 2:
        send(session)
    assert session.finished_episodes[1][:2] == ("test", "policy") and session.finished_episodes[1][3] == 23

    wm = EpisodeDataset(tmp_path / "dataset" / "rec_wm_policy", read_only=True)
    assert wm.num_episodes == 1
    assert wm.action_spec.names == ("NOOP", "LEFT", "RIGHT")  # recordings record the game's actions
    ep = wm.load_episode(0)
    assert len(ep) == length and ep.is_finished
    traj = ep.info["denoising_trajectory"]  # (T, denoising steps + 1, C, H, W)
    steps = loaded.sampler.num_steps_denoising
    assert traj.shape == (length, steps + 1, 3, 16, 16) and traj.dtype == torch.uint8
    assert "original_obs" not in ep.info  # the world model has no original frames

    real = EpisodeDataset(tmp_path / "dataset" / "rec_test_policy", read_only=True)
    ep = real.load_episode(0)
    assert len(ep) == 23 and bool(ep.end[-1]) and float(ep.rew.sum()) == session.finished_episodes[1][2]
    assert ep.obs.shape == (23, 3, 16, 16)
    assert ep.info["original_obs"].shape == (23, 3, 64, 64)  # Catch's full-resolution frames
    assert ep.final_observation is not None
    assert "denoising_trajectory" not in ep.info


def test_run_folder_without_checkpoints_names_the_folder(tiny_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    (run / "config").mkdir(parents=True)
    shutil.copy(tiny_run / "config" / "trainer.yaml", run / "config" / "trainer.yaml")
    with pytest.raises(LoadError, match=r"no agent checkpoint in .*checkpoints/agent_versions"):
        load_run(run)


def _frames_after(session, steps: int) -> list[torch.Tensor]:
    frames = []
    for _ in range(steps):
        session.update()
        frames.append(session.frame.clone())
    return frames


def test_bf16_play_imagines_the_float32_frames_within_rounding(loaded, tiny_run):
    fp32 = _frames_after(make_session(loaded, tiny_run), 1)
    bf16_session = make_session(loaded, tiny_run, precision="bf16")
    bf16 = _frames_after(bf16_session, 1)
    assert bf16_session.env_name == "wm" and bf16[0].dtype == torch.float32
    mse = (bf16[0] - fp32[0]).pow(2).mean().item()  # frames in [-1, 1]: peak-to-peak 2
    psnr = 10 * math.log10(4 / mse) if mse > 0 else math.inf
    assert psnr > 35, psnr


def test_unusable_precision_is_named(loaded, tiny_run):
    with pytest.raises(ValueError, match="one of fp32, bf16, got 'fp16'"):
        build_play_session(loaded, tiny_run, precision="fp16")


@pytest.mark.slow
def test_compiled_play_session_plays_the_eager_frames(loaded, tiny_run):
    eager = _frames_after(make_session(loaded, tiny_run), 4)
    compiled_loaded = load_run(tiny_run)
    session = make_session(compiled_loaded, tiny_run)
    compile_for_play(session, compiled_loaded.agent)  # compiles on one imagined step, then puts the RNG back
    compiled = _frames_after(session, 4)
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, atol=2 * 2 / 255, rtol=0)  # an 8-bit level may round the other way
