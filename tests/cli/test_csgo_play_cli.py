"""`diamond play` of the CS:GO world model as a user runs it (the real CLI under SDL's dummy video driver), and the
one line a CS:GO checkpoint gets in Atari play or eval, and an Atari checkpoint as CS:GO."""

from __future__ import annotations

import argparse

import pygame
import pytest
import torch

from diamond_wm.cli.main import main
from tests.conftest import run_cli
from tests.play.tiny_csgo import write_tiny_csgo
from tests.published_run import tiny_agent_state_dict


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return write_tiny_csgo(tmp_path_factory.mktemp("csgo"))


@pytest.fixture(autouse=True)
def _headless(headless):
    yield


def tiny_model_args(tiny) -> list[str]:
    return [
        "--checkpoint",
        str(tiny.checkpoint),
        "--spawn",
        str(tiny.spawn),
        "--agent-config",
        str(tiny.agent_config),
    ]


def error_line(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def test_play_record_screenshot_then_browse_the_recording(tiny, tmp_path):
    shot = tmp_path / "shot.png"
    args = tiny_model_args(tiny)
    res = run_cli("play", *args, "-r", "--max-frames", "5", "--screenshot", str(shot), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    out = res.stdout
    assert out.index("Controls (play mode, CS:GO world model):") < out.index(
        "left shift : walk"
    )  # the key map
    assert "Recording: finished episodes go to" in out
    img = pygame.image.load(str(shot))
    assert img.get_size() == (
        540 + 16,
        5 * 18 + 16 + 2 * 30 + 16,
    )  # header, then the 50x30 frame twice as large
    assert (tmp_path / "dataset" / "rec_wm_replay" / "info.pt").is_file()  # spawn 0's replay: 4 steps

    res = run_cli("play", "-d", str(tmp_path), "--max-frames", "2", "--screenshot", str(tmp_path / "d.png"))
    assert res.returncode == 0, res.stderr
    assert "Controls (dataset mode):" in res.stdout and "rec_wm_replay" in res.stdout
    assert pygame.image.load(str(tmp_path / "d.png")).get_size()[1] < 640  # the frames' aspect, not a square


def test_the_mismatch_lines_name_both(tiny, tmp_path):
    """A CS:GO world model given to Atari play and eval, an Atari agent given as CS:GO: one line, exit code 2."""
    atari = tmp_path / "breakout.pt"
    torch.save(tiny_agent_state_dict(4), atari)
    for argv, want in (
        (
            ["play", "--checkpoint", str(tiny.checkpoint), "--env-id", "BreakoutNoFrameskip-v4"],
            f"checkpoint {tiny.checkpoint} is a CS:GO world model (denoiser + upsampler, 51-dim multi-hot keyboard "
            "and mouse actions), not an agent for BreakoutNoFrameskip-v4: play it with diamond play --checkpoint",
        ),
        (
            ["eval", str(tiny.checkpoint), "--env-id", "diamond_wm/Catch-v0"],
            f"checkpoint {tiny.checkpoint} is a CS:GO world model",
        ),
        (  # played as a world model of its own from the spawn points, which do not fit it
            ["play", "--checkpoint", str(atari), "--spawn", str(tiny.spawn)],
            f"spawn point {tiny.spawn / '0'} has (3, 6, 10) frames but checkpoint {atari} takes (3, 64, 64) frames",
        ),
    ):
        res = run_cli("-q", *argv, cwd=tmp_path)
        assert res.returncode == 2, res.stderr
        line = error_line(res.stderr)
        assert line.startswith(f"diamond {argv[0]}: error: ") and want in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["breakout.pt"]  # nothing collected or written


@pytest.mark.parametrize(
    "extra, want",
    [
        (["--env-id", "PongNoFrameskip-v4"], "--env-id PongNoFrameskip-v4 names the game of an agent"),
        (
            ["--pretrained", "csgo"],
            "goes with --checkpoint FILE: --pretrained csgo comes with its spawn points",
        ),
        (["--size-multiplier", "0"], "--size-multiplier must be >= 1"),
        (["--mouse-multiplier", "-1"], "--mouse-multiplier > 0"),
    ],
)
def test_options_that_do_not_go_with_csgo_are_one_line(tiny, extra, want, capsys):
    assert main(["-q", "play", "--spawn", str(tiny.spawn), *extra]) == 2
    assert want in error_line(capsys.readouterr().err)


def test_spawn_without_a_model_and_a_model_without_spawn_points(tiny, capsys):
    assert main(["-q", "play", "--spawn", str(tiny.spawn)]) == 2
    assert (
        "--spawn" in (line := error_line(capsys.readouterr().err)) and "needs the CS:GO world model" in line
    )
    assert main(["-q", "play", "--checkpoint", str(tiny.checkpoint)]) == 2
    assert "--spawn DIR" in error_line(capsys.readouterr().err)


def test_csgo_options_elsewhere_are_ignored_with_a_warning(tiny, capsys, restore_logging):
    argv = [
        "play",
        "--checkpoint",
        str(tiny.checkpoint),
        "--env-id",
        "BreakoutNoFrameskip-v4",
        "--preset",
        "fast",
    ]
    assert main([*argv, "--mouse-multiplier", "3"]) == 2  # then refused: a CS:GO model for Breakout
    err = capsys.readouterr().err
    assert "--preset, --mouse-multiplier: options of the CS:GO world model, ignored here" in err


@pytest.mark.parametrize(
    "flags, native, want",
    [
        ([], True, ("fp32", False)),
        (["--fast"], True, ("bf16", True)),
        (["--fast"], False, ("fp32", True)),
        (["--fast", "--precision", "fp32"], True, ("fp32", True)),
        (["--precision", "bf16"], False, ("bf16", False)),
    ],
)
def test_fast_picks_the_devices_native_precision_and_compiles(flags, native, want, monkeypatch):
    from diamond_wm.cli import play as play_cli
    from diamond_wm.runtime import precision

    monkeypatch.setattr(precision, "bf16_is_native", lambda device: native)
    parser = argparse.ArgumentParser()
    play_cli.add_arguments(parser)
    args = parser.parse_args(flags)
    play_cli._choose_mode(args, torch.device("cpu"))
    assert (args.precision, args.compile) == want


@pytest.mark.slow
def test_play_fast_compiles_and_plays(tiny, tmp_path):
    args = tiny_model_args(tiny)
    res = run_cli(
        "play", *args, "--fast", "--max-frames", "3", "--screenshot", str(tmp_path / "f.png"), cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert "Compiling the world model" in res.stdout
    assert pygame.image.load(str(tmp_path / "f.png")).get_size()[0] == 540 + 16
