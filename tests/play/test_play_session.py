"""`diamond play` headless: the pygame window driven by posted key events, on a tiny trained run."""

from __future__ import annotations

import math

import pygame
import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.interactive.launch import build_play_session, compile_for_play
from diamond_wm.loading.agent import LoadError, load_run
from diamond_wm.play.window import PlayWindow


def press(window: PlayWindow, *keys: int, release: bool = True) -> None:
    """Post KEYDOWN (and KEYUP) events and run one frame of the window."""
    for key in keys:
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
        if release:
            pygame.event.post(pygame.event.Event(pygame.KEYUP, key=key))
    window.tick()


@pytest.fixture
def loaded(tiny_run):
    return load_run(tiny_run)


def make_window(loaded, base, **kwargs):
    session = build_play_session(loaded, base, horizon=5, seed=0, **kwargs)
    window = PlayWindow(session, size=128, fps=0)
    window.open()
    return session, window


def test_controls_switch_controller_env_horizon_pause_and_step(loaded, tiny_run, tmp_path):
    session, window = make_window(loaded, tiny_run)
    try:
        press(window)  # first frame: reset + one step in the world model, policy in control
        assert (session.env_name, session.controller, session.t) == ("wm", "policy", 1)
        assert session.frame.shape == (3, 16, 16)

        press(window, pygame.K_m)
        assert session.controller == "human"
        press(window, pygame.K_m)
        assert session.controller == "policy"

        press(window, pygame.K_RIGHT)
        assert session.env_name == "test" and session.t == 1  # switched, reset, one step
        press(window, pygame.K_RIGHT)
        assert session.env_name == "train"
        press(window, pygame.K_RIGHT)
        assert session.env_name == "wm"
        press(window, pygame.K_LEFT)
        assert session.env_name == "train"
        press(window, pygame.K_LEFT, pygame.K_LEFT)
        assert session.env_name == "wm"

        wm_env = session.envs[0].env
        press(window, pygame.K_UP)
        assert session.horizon == 6 and wm_env.horizon == 6
        press(window, pygame.K_DOWN, pygame.K_DOWN)
        assert session.horizon == 4 and wm_env.horizon == 4
        for _ in range(5):
            press(window, pygame.K_DOWN)
        assert session.horizon == 1  # never below 1

        press(window, pygame.K_RETURN)
        assert session.t == 1  # reset, then one step
        press(window, pygame.K_PERIOD)
        assert session.paused
        t = session.t
        press(window)
        press(window)
        assert session.t == t  # paused: no step
        press(window, pygame.K_e)
        assert session.t == t + 1 or session.t == 1  # one step (or an ended episode restarted)
        header = "\n".join(line for col in session.header() for line in col)
        assert "PAUSED" in header and "Env     : wm" in header and "Horizon : 1" in header
        press(window, pygame.K_PERIOD)
        assert not session.paused

        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        window.tick()
        assert window.should_stop
    finally:
        window.close()


def test_human_keys_choose_the_action(loaded, tiny_run):
    session, window = make_window(loaded, tiny_run)
    try:
        press(window, pygame.K_RIGHT)  # real test env
        press(window, pygame.K_m)  # human
        assert session.controller == "human" and session.env_name == "test"
        press(window, pygame.K_a, release=False)  # hold LEFT
        assert session.keymap.action_names[session.last.action] == "LEFT"
        press(window)
        assert session.keymap.action_names[session.last.action] == "LEFT"  # still held
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_a))
        press(window, pygame.K_d, release=False)
        assert session.keymap.action_names[session.last.action] == "RIGHT"
        pygame.event.post(pygame.event.Event(pygame.KEYUP, key=pygame.K_d))
        window.tick()
        assert session.keymap.action_names[session.last.action] == "NOOP"
        header = "\n".join(line for col in session.header() for line in col)
        for label in (
            "Control : human",
            "Timestep:",
            "Reward:",
            "Return:",
            "Action :",
            "Entropy:",
            "Value  :",
        ):
            assert label in header
    finally:
        window.close()


def test_screenshot_has_header_on_top_and_frame_below(loaded, tiny_run, tmp_path):
    session, window = make_window(loaded, tiny_run)
    try:
        press(window, pygame.K_RIGHT)  # the real game: a crisp frame
        path = window.save_screenshot(tmp_path / "play.png")
    finally:
        window.close()
    img = pygame.image.load(str(path))
    assert img.get_size() == (window.width, window.height)
    x, y, w, h = window.header_rect
    assert img.get_at((x + w // 2, y))[:3] == (255, 255, 255)  # header frame, top edge
    assert img.get_at((x, y + h // 2))[:3] == (255, 255, 255)  # header frame, left edge
    fx, fy, fw, fh = window.frame_rect
    assert fy > y + h  # the frame is below the header
    frame = pygame.surfarray.array3d(img)[fx : fx + fw, fy : fy + fh]
    assert frame.shape == (128, 128, 3)
    # Catch: cyan paddle on the bottom row, red ball somewhere, black background.
    assert (frame[:, -4:] == (60, 200, 230)).all(axis=-1).any()
    assert (frame == (230, 60, 60)).all(axis=-1).any()


def test_no_header(loaded, tiny_run):
    session = build_play_session(loaded, tiny_run, horizon=5, seed=0)
    with_header = PlayWindow(session, size=128, show_header=True)
    without = PlayWindow(session, size=128, show_header=False)
    assert without.height < with_header.height and without.frame_rect[1] < with_header.frame_rect[1]


def test_recording_real_and_imagined_episodes(loaded, tiny_run, tmp_path):
    session = build_play_session(
        loaded,
        tmp_path,
        horizon=2,
        seed=0,
        record=True,
        store_denoising_trajectory=True,
        store_original_obs=True,
    )
    window = PlayWindow(session, size=64, fps=0)
    window.open()
    try:
        for _ in range(2):  # the world model truncates at the horizon (2), unless it ends before
            press(window)
        while not session.finished_episodes:
            press(window)
        env_name, controller, ret, length = session.finished_episodes[0]
        assert (env_name, controller) == ("wm", "policy") and length <= 2

        press(window, pygame.K_RIGHT)  # real test env: Catch episodes last 23 steps
        while len(session.finished_episodes) < 2:
            press(window)
    finally:
        window.close()
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


def test_dataset_mode_navigation(tiny_run):
    browser = build_dataset_browser(tiny_run, ["NOOP", "LEFT", "RIGHT"])
    assert [n for n, _ in browser.datasets] == ["test", "train"]
    window = PlayWindow(browser, size=64, fps=0)
    window.open()
    try:
        press(window)
        assert (browser.name, browser.episode_id, browser.t) == ("test", 0, 0)
        press(window, pygame.K_UP)
        assert browser.t == 1
        press(window, pygame.K_PAGEUP)
        assert browser.t == 11
        press(window, pygame.K_DOWN)
        assert browser.t == 10
        press(window, pygame.K_PAGEDOWN)
        assert browser.t == 0
        press(window, pygame.K_DOWN)
        assert browser.t == len(browser.episode) - 1  # wraps around
        press(window, pygame.K_RETURN)
        assert browser.t == 0
        press(window, pygame.K_RIGHT)
        assert browser.episode_id == 1 and browser.t == 0
        press(window, pygame.K_LEFT, pygame.K_LEFT)
        assert browser.episode_id == browser.dataset.num_episodes - 1
        press(window, pygame.K_m)
        assert (browser.name, browser.episode_id) == ("train", 0)
        assert torch.equal(browser.frame, browser.dataset.load_episode(0).obs[0].float() / 255 * 2 - 1)
        header = "\n".join(line for col in browser.header() for line in col)
        assert "Dataset: train" in header and "Episode: 0 / " in header and "Action: " in header
        press(window, pygame.K_m)
        assert browser.name == "test"
    finally:
        window.close()


def test_dataset_mode_without_datasets_names_the_folder(tmp_path):
    with pytest.raises(LoadError, match="no dataset to browse: .*dataset does not exist"):
        build_dataset_browser(tmp_path)


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
    fp32 = _frames_after(build_play_session(loaded, tiny_run, horizon=5, seed=0), 1)
    bf16_session = build_play_session(loaded, tiny_run, horizon=5, seed=0, precision="bf16")
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
    eager = _frames_after(build_play_session(loaded, tiny_run, horizon=5, seed=0), 4)
    compiled_loaded = load_run(tiny_run)
    session = build_play_session(compiled_loaded, tiny_run, horizon=5, seed=0)
    compile_for_play(session, compiled_loaded.agent)  # compiles on one imagined step, then puts the RNG back
    compiled = _frames_after(session, 4)
    for a, b in zip(compiled, eager, strict=True):
        torch.testing.assert_close(a, b, atol=2 * 2 / 255, rtol=0)  # an 8-bit level may round the other way
