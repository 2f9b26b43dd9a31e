"""`diamond play` of the CS:GO world model, headless: the pygame window driven by posted key and mouse events, on a
tiny CS:GO-shaped world model (tests/play/tiny_csgo.py)."""

from __future__ import annotations

import numpy as np
import pygame
import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.envs.csgo import csgo_action_spec, encode
from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.interactive.launch import build_csgo_play_session
from diamond_wm.loading.agent_config import AgentRequest
from diamond_wm.loading.csgo import load_csgo
from diamond_wm.play.window import PlayWindow, frame_to_surface_array
from tests.play.tiny_csgo import REPLAYS, vectors, write_tiny_csgo

FRAME = (3, 30, 50)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_csgo(tmp_path_factory.mktemp("csgo"))


@pytest.fixture(scope="module")
def loaded(tiny):
    return load_csgo(tiny.checkpoint, tiny.spawn, "cpu", AgentRequest(tiny.agent_config))


def make(loaded, base, **kwargs):
    """A session in an open window (100 x 60 frame area), and the list of actions the world model is stepped with."""
    session = build_csgo_play_session(loaded, base, seed=0, **kwargs)
    window = PlayWindow(session, size=(100, 60), fps=0)
    window.open()
    stepped: list[torch.Tensor] = []
    real_step = session.wm_env.step

    def spy(act):
        stepped.append(act.detach().cpu().reshape(-1).clone())
        return real_step(act)

    session.wm_env.step = spy
    return session, window, stepped


def post(*events: tuple) -> None:
    for kind, fields in events:
        pygame.event.post(pygame.event.Event(kind, **fields))


def key(k: int, down: bool = True) -> tuple:
    return (pygame.KEYDOWN if down else pygame.KEYUP, {"key": k})


def press(window: PlayWindow, *keys: int) -> None:
    """Press and release keys, then run one frame."""
    for k in keys:
        post(key(k), key(k, down=False))
    window.tick()


def spawn_actions(tiny, n: int) -> tuple[np.ndarray, np.ndarray]:
    d = tiny.spawn / str(n)
    return np.load(d / "act.npy"), np.load(d / "next_act.npy")


def test_keys_and_mouse_step_the_world_model_with_their_encoded_actions(loaded, tmp_path):
    session, window, stepped = make(loaded, tmp_path)
    try:
        press(window, pygame.K_m)  # the replay starts; m gives the human control (and resets)
        assert session.controller == "human" and session.t == 1
        assert torch.equal(stepped[-1], encode([]).to_vector())  # nothing held, no motion
        assert session.frame.shape == FRAME

        post(
            key(pygame.K_w),
            key(pygame.K_s),  # w was pressed first: s is dropped
            key(pygame.K_a),
            (pygame.MOUSEMOTION, {"rel": (2, -1), "pos": (0, 0), "buttons": (0, 0, 0)}),
            (pygame.MOUSEMOTION, {"rel": (1, 0), "pos": (0, 0), "buttons": (0, 0, 0)}),
            (pygame.MOUSEBUTTONDOWN, {"button": 1, "pos": (0, 0)}),
        )
        window.tick()
        want = encode(["w", "a"], 30, -10, l_click=True)  # motion summed over the frame, times 10
        assert torch.equal(stepped[-1], want.to_vector())
        assert session.header()[1][:3] == ["Keys  : w + a", "Mouse : x 30, y -10", "Clicks: left"]

        window.tick()  # still held; the motion was consumed
        assert torch.equal(stepped[-1], encode(["w", "a"], 0, 0, l_click=True).to_vector())

        post(key(pygame.K_w, down=False), (pygame.MOUSEBUTTONUP, {"button": 1, "pos": (0, 0)}))
        post(key(pygame.K_LEFT), (pygame.MOUSEBUTTONDOWN, {"button": 3, "pos": (0, 0)}))
        window.tick()  # s, held all along, now counts; the left arrow turns the camera: mouse x -60
        assert torch.equal(stepped[-1], encode(["s", "a", "left"], 0, 0, r_click=True).to_vector())
        assert session.t == 4 and session.frame.shape == FRAME
    finally:
        window.close()


def test_the_replay_plays_the_spawn_actions_then_the_next_spawn_and_m_switches(loaded, tiny, tmp_path):
    session, window, stepped = make(loaded, tmp_path)
    try:
        assert session.controller == "replay"
        act, next_act = spawn_actions(tiny, 0)
        for _ in range(len(next_act) + 1):
            window.tick()
        # the action of the last context frame, then the recorded human actions
        assert np.array_equal(torch.stack(stepped).numpy(), np.concatenate([act[-1:], next_act]))
        assert session.finished_episodes == [("wm", "replay", 0.0, len(next_act) + 1)]  # truncated there
        assert session.last.trunc

        window.tick()  # the next spawn point, in order
        act1, next_act1 = spawn_actions(tiny, 1)
        assert session.spawn_index == 1 and session.t == 1
        assert np.array_equal(stepped[-1].numpy(), act1[-1])
        window.tick()
        assert np.array_equal(stepped[-1].numpy(), next_act1[0])

        press(window, pygame.K_m)
        assert session.controller == "human" and session.t == 1 and session.spawn_index == 0  # reset, wrapped
        press(window, pygame.K_m)
        assert session.controller == "replay" and session.t == 1
        assert np.array_equal(stepped[-1].numpy(), act1[-1])
    finally:
        window.close()


def test_pause_step_reset_and_quit(loaded, tmp_path):
    session, window, stepped = make(loaded, tmp_path)
    try:
        press(window, pygame.K_m)
        press(window, pygame.K_PERIOD)
        assert session.paused
        n, t = len(stepped), session.t
        press(window)
        press(window, pygame.K_w)  # a game key does not step a paused game
        assert (len(stepped), session.t) == (n, t)
        press(window, pygame.K_e)
        assert (len(stepped), session.t) == (n + 1, t + 1)
        assert "PAUSED" in session.header()[0]
        press(window, pygame.K_RETURN)  # reset (paused: nothing stepped)
        assert session.t == 0 and session.spawn_index == 1
        press(window, pygame.K_PERIOD)
        assert not session.paused and session.t == 1
        post(key(pygame.K_ESCAPE))
        window.tick()
        assert window.should_stop
    finally:
        window.close()


def test_window_hides_and_grabs_the_mouse_and_shows_the_frame_below_the_header(loaded, tmp_path, monkeypatch):
    grabs: list[bool] = []  # SDL's dummy driver cannot grab: the calls are what is checked
    monkeypatch.setattr(pygame.event, "set_grab", grabs.append)
    session, window, _ = make(loaded, tmp_path)
    try:
        assert window.uses_mouse and not pygame.mouse.get_visible() and grabs == [True]
        window.tick()
        shot = window.save_screenshot(tmp_path / "shot.png")
        frame = session.frame
    finally:
        window.close()
    assert grabs == [True, False]  # given back
    img = pygame.surfarray.array3d(pygame.image.load(str(shot)))  # (W, H, 3)
    x, y, w, h = window.header_rect
    fx, fy, fw, fh = window.frame_rect
    assert (fw, fh) == (100, 60) and fy > y + h
    assert tuple(img[x + w // 2, y]) == (255, 255, 255)  # the header's frame
    want = frame_to_surface_array(frame, (100, 60))  # (H, W, 3)
    assert np.array_equal(img[fx : fx + fw, fy : fy + fh], want.transpose(1, 0, 2))


def test_controls_and_key_map(loaded, tmp_path):
    session = build_csgo_play_session(loaded, tmp_path, mouse_multiplier=4)
    text = "\n".join(session.controls_help())
    for line in (
        "m      : switch controller (replay / human), then reset",
        ".      : pause / resume",
        "e      : one step (while paused)",
        "return : reset (next spawn point)",
        "           w : up",
        "   left ctrl : crouch",
        "          up : camera_up",
        "       mouse : look (relative motion x 4, --mouse-multiplier)",
    ):
        assert line in text


def test_recorded_episode_holds_the_multi_hot_actions_and_dataset_mode_opens_it(loaded, tiny, tmp_path):
    session, window, stepped = make(loaded, tmp_path, horizon=3, record=True, store_denoising_trajectory=True)
    try:
        press(window, pygame.K_m)  # human, from spawn point 0
        post(key(pygame.K_w))
        while not session.finished_episodes:
            window.tick()
        episode_actions = torch.stack(stepped[-3:])
        window.tick()  # the world model restarted itself at the horizon; play goes on from the next spawn point
        context = torch.from_numpy(np.load(tiny.spawn / "1" / "low_res.npy")).float().div(255).mul(2).sub(1)
        assert session.spawn_index == 1 and torch.equal(session.wm_env.obs_buffer[0, :3], context[1:])
    finally:
        window.close()
    assert session.finished_episodes == [("wm", "human", 0.0, 3)]
    ds = EpisodeDataset(tmp_path / "dataset" / "rec_wm_human", read_only=True)
    assert ds.num_episodes == 1 and ds.action_spec == csgo_action_spec()
    ep = ds.load_episode(0)
    assert ep.act.dtype == torch.float32 and torch.equal(ep.act, episode_actions)
    assert torch.equal(ep.act[1], encode(["w"]).to_vector())
    assert ep.obs.shape == (3, *FRAME) and bool(ep.trunc[-1]) and ep.final_observation is not None
    spawn = tiny.spawn / "0"
    assert np.array_equal(ep.obs[0].numpy(), np.load(spawn / "full_res.npy")[-1])  # the spawn's last frame
    low = ep.info["obs_low_res"]  # the low-resolution frame of each recorded frame
    assert low.shape == (3, 3, 6, 10) and low.dtype == torch.uint8
    assert np.array_equal(low[0].numpy(), np.load(spawn / "low_res.npy")[-1])
    assert ep.info["denoising_trajectory"].shape == (3, 2, 3, 6, 10)  # fast preset: 1 step
    assert ep.info["denoising_trajectory_upsampling"].shape == (3, 2, *FRAME)

    browser = build_dataset_browser(tmp_path)
    assert [name for name, _ in browser.datasets] == ["rec_wm_human"]
    window = PlayWindow(browser, size=(100, 60), fps=0)
    window.open()
    try:
        press(window, pygame.K_UP)  # timestep 1: w held
        assert browser.frame.shape == FRAME
        assert browser.header()[1][1:4] == ["Keys  : w", "Mouse : x 0, y 0", "Clicks: -"]
    finally:
        window.close()


def test_the_replay_of_recorded_actions_is_validated_when_loaded(tiny, tmp_path):
    """A spawn point whose recorded actions are not valid vectors is named in one line before playing."""
    import shutil

    from diamond_wm.loading.agent import LoadError

    spawn = tmp_path / "spawn"
    shutil.copytree(tiny.spawn, spawn)
    bad = vectors(REPLAYS[0])
    bad[1, 13:36] = 0  # no mouse-x bin
    np.save(spawn / "0" / "next_act.npy", bad)
    with pytest.raises(LoadError) as err:
        load_csgo(tiny.checkpoint, spawn, "cpu", AgentRequest(tiny.agent_config))
    msg = str(err.value)
    assert "\n" not in msg and "next_act.npy" in msg and "one-hot group 'mouse_x'" in msg
