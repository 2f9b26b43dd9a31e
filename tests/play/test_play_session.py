"""`diamond play` headless: the pygame window driven by posted key events, on a tiny trained run (what the
window sends the session: its bound commands and named game keys; the sessions themselves are tested in
tests/interactive)."""

from __future__ import annotations

import pygame
import pytest

from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.interactive.launch import build_play_session
from diamond_wm.loading.agent import load_run
from diamond_wm.play.window import PlayWindow, controls_help


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


def test_focus_lost_releases_the_held_keys(loaded, tiny_run):
    session, window = make_window(loaded, tiny_run)
    try:
        press(window, pygame.K_m)  # human
        press(window, pygame.K_a, release=False)
        assert session.pressed == {"a"}
        pygame.event.post(pygame.event.Event(pygame.WINDOWFOCUSLOST))
        window.tick()
        assert session.pressed == set() and session.keymap.action_names[session.last.action] == "NOOP"
    finally:
        window.close()


def test_dataset_mode_keys(tiny_run):
    browser = build_dataset_browser(tiny_run, ["NOOP", "LEFT", "RIGHT"])
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
    finally:
        window.close()


def test_the_printed_controls_start_with_the_windows_quit_key(tiny_run):
    lines = controls_help(build_dataset_browser(tiny_run))
    assert lines[:3] == [
        "Controls (dataset mode):",
        "  escape    : quit",
        "  m         : next dataset (test / train)",
    ]
