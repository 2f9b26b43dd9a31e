"""`--pretrained`: the real `hf_hub_download` code path against a local stand-in for the Hub."""

from __future__ import annotations

import pygame
import pytest
import torch

from diamond_wm import hub
from diamond_wm.interactive.launch import build_play_session
from diamond_wm.loading.agent import LoadError, load_pretrained
from diamond_wm.play.window import PlayWindow
from tests.play.local_hub import LocalHub, closed_port_url, write_published_layout


def test_resolve_game():
    assert len(hub.ATARI_100K_GAMES) == 26
    assert hub.resolve_game("breakout") == "Breakout"
    assert hub.resolve_game("MsPacmanNoFrameskip-v4") == "MsPacman"
    assert hub.resolve_game("7") == "Breakout"
    with pytest.raises(ValueError, match="unknown Atari 100k game 'Tetris': expected one of Alien, Amidar"):
        hub.resolve_game("Tetris")


def test_download_is_cached_and_reads_the_published_yaml(tmp_path):
    state_dict = write_published_layout(tmp_path / "hub")
    cache = tmp_path / "cache"
    with LocalHub(tmp_path / "hub") as server:
        files = hub.download_pretrained("Breakout", cache_dir=cache, endpoint=server.url)
        paths = {path for _, path in server.requests}
    assert paths == {
        "/eloialonso/diamond/resolve/main/atari_100k/models/Breakout.pt",
        "/eloialonso/diamond/resolve/main/atari_100k/config/agent/default.yaml",
        "/eloialonso/diamond/resolve/main/atari_100k/config/env/atari.yaml",
    }
    assert (
        str(files.model).startswith(str(cache))
        and files.model.read_bytes() == (tmp_path / "hub" / "atari_100k/models/Breakout.pt").read_bytes()
    )
    # Server gone: the cached files are used.
    again = hub.download_pretrained("Breakout", cache_dir=cache, endpoint=closed_port_url())
    assert again.model == files.model

    agent_cfg, env_cfg = hub.read_published_configs(
        files.agent_config, files.env_config, "PongNoFrameskip-v4"
    )
    assert agent_cfg.actor_critic.lstm_dim == 16 and agent_cfg.actor_critic.img_size == 64
    assert agent_cfg.rew_end_model.img_channels == 3 and agent_cfg.denoiser.inner_model.channels == [8, 8]
    assert (env_cfg.type, env_cfg.train.id, env_cfg.test.id) == (
        "atari",
        "PongNoFrameskip-v4",
        "PongNoFrameskip-v4",
    )
    assert env_cfg.train.done_on_life_loss and not env_cfg.test.done_on_life_loss
    assert env_cfg.keymap == "atari/PongNoFrameskip-v4"
    assert len(state_dict) > 0


def test_no_network_is_one_line_with_the_local_alternative(tmp_path):
    with pytest.raises(LoadError) as err:
        load_pretrained("Breakout", cache_dir=tmp_path / "cache", endpoint=closed_port_url())
    msg = str(err.value)
    assert "\n" not in msg
    assert "cannot download atari_100k/models/Breakout.pt from eloialonso/diamond" in msg
    assert "--checkpoint PATH --env-id BreakoutNoFrameskip-v4" in msg


def test_play_a_pretrained_model(tmp_path):
    state_dict = write_published_layout(tmp_path / "hub")
    with LocalHub(tmp_path / "hub") as server:
        loaded = load_pretrained("Breakout", cache_dir=tmp_path / "cache", endpoint=server.url)
    assert loaded.game == "Breakout" and loaded.env.test.id == "BreakoutNoFrameskip-v4"
    for k, v in loaded.agent.state_dict().items():
        assert torch.equal(v, state_dict[k]), k
    session = build_play_session(loaded, tmp_path / "play", num_steps_initial_collect=20, horizon=50, seed=0)
    init = tmp_path / "play" / "dataset" / "Breakout_20"
    assert (init / "info.pt").is_file()  # the initial conditions, collected in the real game and kept
    assert session.horizon == 50 and session.envs[0].env.horizon == 50
    assert session.keymap.action_names == ["NOOP", "FIRE", "RIGHT", "LEFT"]
    assert session.keymap.action(["space"]) == 1
    window = PlayWindow(session, size=64, fps=0)
    window.open()
    try:
        window.tick()
        assert session.env_name == "wm" and session.frame.shape == (3, 64, 64)
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_RIGHT))
        window.tick()
        assert session.env_name == "test" and session.t == 1
    finally:
        window.close()
        for e in session.envs:
            e.env.close()
