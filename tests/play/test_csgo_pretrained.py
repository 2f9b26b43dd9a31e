"""`--pretrained csgo`: the real `hf_hub_download` / `snapshot_download` code paths against a local stand-in of the
Hub serving the published CS:GO layout (a tiny world model)."""

from __future__ import annotations

import pygame
import pytest
import torch

from diamond_wm import hub
from diamond_wm.interactive.launch import build_csgo_play_session
from diamond_wm.loading.agent import LoadError
from diamond_wm.loading.csgo import load_pretrained_csgo
from diamond_wm.play.window import PlayWindow
from tests.conftest import run_cli
from tests.play.local_hub import LocalHub, closed_port_url, write_csgo_layout

SPAWN_FILES = ("act.npy", "full_res.npy", "low_res.npy", "next_act.npy")


def test_download_fetches_the_model_its_config_and_the_spawn_folders_once(tmp_path):
    write_csgo_layout(tmp_path / "hub")
    cache = tmp_path / "cache"
    with LocalHub(tmp_path / "hub") as server:
        files = hub.download_csgo(cache_dir=cache, endpoint=server.url)
        fetched = {
            path.split("/resolve/", 1)[1].split("/", 1)[1]
            for _, path in server.requests
            if "/resolve/" in path
        }
    spawn_files = {f"csgo/spawn/{n}/{f}" for n in (0, 1) for f in SPAWN_FILES}
    assert fetched == {"csgo/model/csgo.pt", "csgo/config/agent/csgo.yaml"} | spawn_files
    assert files.model.read_bytes() == (tmp_path / "hub" / "csgo/model/csgo.pt").read_bytes()
    assert str(files.model).startswith(str(cache)) and files.spawn.name == "spawn"
    assert sorted(p.relative_to(files.spawn).as_posix() for p in files.spawn.rglob("*.npy")) == sorted(
        f.removeprefix("csgo/spawn/") for f in spawn_files
    )
    again = hub.download_csgo(cache_dir=cache, endpoint=closed_port_url())  # no network: the cache
    assert (again.model, again.spawn) == (files.model, files.spawn)


def test_play_the_pretrained_model(tmp_path):
    tiny = write_csgo_layout(tmp_path / "hub")
    with LocalHub(tmp_path / "hub") as server:
        loaded = load_pretrained_csgo(cache_dir=tmp_path / "cache", endpoint=server.url)
    assert loaded.pretrained and loaded.name == "csgo" and loaded.preset == "fast"
    for k, v in loaded.agent.state_dict().items():  # the Hub's networks (its csgo.yaml) with its weights
        assert torch.equal(v, tiny.state_dict[k]), k
    session = build_csgo_play_session(loaded, tmp_path / "play", seed=0)
    window = PlayWindow(session, size=(100, 60), fps=0)
    window.open()
    try:
        window.tick()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_m))
        window.tick()
        assert session.controller == "human" and session.t == 1 and session.frame.shape == (3, 30, 50)
    finally:
        window.close()


def test_no_network_is_one_line_with_the_local_alternative(tmp_path):
    with pytest.raises(LoadError) as err:
        load_pretrained_csgo(cache_dir=tmp_path / "cache", endpoint=closed_port_url())
    msg = str(err.value)
    assert "\n" not in msg and "cannot download csgo/spawn/ from eloialonso/diamond" in msg
    assert "--checkpoint csgo/model/csgo.pt --spawn csgo/spawn" in msg


def test_the_cli_plays_pretrained_csgo_from_the_hub(tmp_path, monkeypatch):
    """The real CLI, HF_ENDPOINT pointing at the local stand-in of the Hub, recording the replay."""
    write_csgo_layout(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    with LocalHub(tmp_path / "hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        res = run_cli("play", "--pretrained", "csgo", "--max-frames", "5", "-r", cwd=work)
    assert res.returncode == 0, res.stderr
    assert "m      : switch controller (replay / human)" in res.stdout and "w : up" in res.stdout
    assert any(p.name == "csgo.pt" for p in (tmp_path / "cache").rglob("*.pt"))
    assert (work / "dataset" / "rec_wm_replay" / "info.pt").is_file()  # the replay of spawn point 0: 4 steps
