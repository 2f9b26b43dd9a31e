"""`diamond play` as a user runs it: the real CLI under SDL's dummy video driver, and its start-up errors."""

from __future__ import annotations

import shutil

import pytest

from diamond_wm.cli.main import main
from tests.conftest import run_cli
from tests.play.local_hub import LocalHub, closed_port_url, write_published_layout
from tests.play.tiny_run import train_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(autouse=True)
def _headless(headless):
    """Every test here runs pygame headless on one thread: see tests/conftest.py's `headless`."""
    yield


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_play_a_run_folder_and_take_a_screenshot(tiny_run, tmp_path):
    shot = tmp_path / "shot.png"
    res = run_cli("play", str(tiny_run), "--max-frames", "4", "--size", "128", "--screenshot", str(shot))
    assert res.returncode == 0, res.stderr
    assert "Controls (play mode):" in res.stdout and "a : LEFT" in res.stdout and "d : RIGHT" in res.stdout
    assert shot.is_file() and shot.stat().st_size > 0


def test_dataset_mode_of_a_run_folder(tiny_run, capsys):
    assert main(["-q", "play", "-d", str(tiny_run), "--max-frames", "2", "--size", "64"]) == 0
    assert "Controls (dataset mode):" in capsys.readouterr().out


def test_folder_without_a_run(tmp_path, capsys):
    assert main(["-q", "play", str(tmp_path)]) == 2
    line = one_error_line(capsys)
    assert line.startswith("diamond play: error: no agent checkpoint") and str(tmp_path) in line


def test_run_folder_without_checkpoints(tiny_run, tmp_path, capsys):
    (tmp_path / "config").mkdir()
    shutil.copy(tiny_run / "config" / "trainer.yaml", tmp_path / "config" / "trainer.yaml")
    assert main(["-q", "play", str(tmp_path)]) == 2
    assert f"no agent checkpoint in {tmp_path}/checkpoints/agent_versions" in one_error_line(capsys)


def test_dataset_mode_without_dataset(tmp_path, capsys):
    assert main(["-q", "play", "-d", str(tmp_path)]) == 2
    assert f"no dataset to browse: {tmp_path}/dataset does not exist" in one_error_line(capsys)


def test_pretrained_without_network(tmp_path, monkeypatch, capsys):
    from diamond_wm import hub

    real = hub.download_pretrained
    url = closed_port_url()
    monkeypatch.setattr(
        hub, "download_pretrained", lambda game, **kw: real(game, cache_dir=tmp_path, endpoint=url)
    )
    assert main(["-q", "play", "--pretrained", "Breakout"]) == 2
    line = one_error_line(capsys)
    assert "cannot download atari_100k/models/Breakout.pt" in line
    assert "--checkpoint PATH --env-id BreakoutNoFrameskip-v4" in line


def test_pretrained_needs_a_game_when_not_interactive(capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert main(["-q", "play", "--pretrained"]) == 2
    assert "--pretrained needs a game, one of: Alien, Amidar" in one_error_line(capsys)
    assert main(["-q", "play", "--pretrained", "Tetris"]) == 2
    assert "unknown Atari 100k game 'Tetris'" in one_error_line(capsys)


def test_pretrained_from_a_local_hub(tmp_path, monkeypatch):
    """The real CLI, the real hf_hub_download, HF_ENDPOINT pointing at a local stand-in of the Hub."""
    write_published_layout(tmp_path / "hub")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "cache"))
    work = tmp_path / "work"
    work.mkdir()
    with LocalHub(tmp_path / "hub") as server:
        monkeypatch.setenv("HF_ENDPOINT", server.url)
        res = run_cli(
            "play", "--pretrained", "Breakout", "-n", "20", "--max-frames", "3", "--size", "64", cwd=work
        )
    assert res.returncode == 0, res.stderr
    assert "space : FIRE" in res.stdout
    assert (work / "dataset" / "Breakout_20" / "info.pt").is_file()
    assert any(p.name == "Breakout.pt" for p in (tmp_path / "cache").rglob("*.pt"))


def test_play_in_bf16(tiny_run):
    res = run_cli("play", str(tiny_run), "--precision", "bf16", "--max-frames", "3", "--size", "64")
    assert res.returncode == 0, res.stderr


def test_unknown_precision_is_a_usage_error(tiny_run):
    res = run_cli("play", str(tiny_run), "--precision", "fp16")
    assert res.returncode == 2 and "invalid choice: 'fp16'" in res.stderr
