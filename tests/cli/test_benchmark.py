"""`diamond benchmark atari100k`: games x seeds as one sweep of run folders that `diamond results` reads."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from diamond_wm.cli.benchmark import parse_games, parse_seeds
from diamond_wm.cli.main import main
from diamond_wm.config.atari_100k import ATARI_100K_GAMES, ATARI_100K_IDS
from tests.cli.test_sweep import TINY
from tests.conftest import run_cli
from tests.results.runs import make_run


def _run_dir(sweep_dir: Path, env_id: str, seed: int) -> Path:
    return sweep_dir / f"common.seed={seed},env.train.id={env_id}"


def test_dry_run_lists_the_26_games_times_the_seeds(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    sweep_dir = tmp_path / "bench"
    assert (
        main(["-q", "benchmark", "atari100k", "--seeds", "0-1", "--sweep-dir", str(sweep_dir), "--dry-run"])
        == 0
    )
    out, err = capsys.readouterr()
    listed = [line.split() for line in out.splitlines()]
    assert len(listed) == 26 * 2
    expected = {str(_run_dir(sweep_dir, ATARI_100K_IDS[g], s)) for g in ATARI_100K_GAMES for s in (0, 1)}
    assert {path for _, path in listed} == expected
    assert {status for status, _ in listed} == {"new"}
    assert f"sweep folder {sweep_dir}: 52 runs (52 new)" in err
    assert not sweep_dir.exists()  # a dry run writes nothing


def test_games_and_seeds():
    assert parse_games("Pong,BreakoutNoFrameskip-v4,Pong") == ["PongNoFrameskip-v4", "BreakoutNoFrameskip-v4"]
    assert len(parse_games("all")) == 26
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4]
    assert parse_seeds("3") == [3]
    assert parse_seeds("0,2,5-6") == [0, 2, 5, 6]
    for bad in ("4-2", "a", "-1", "0,,1"):
        with pytest.raises(ValueError, match="is not a seed or a range"):
            parse_seeds(bad)


@pytest.mark.parametrize("game", ["Pacman", "ALE/Pong-v5", "CartPole-v1"])
def test_a_game_outside_atari_100k_is_one_line_naming_it_and_the_valid_ones(
    game, tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "benchmark", "atari100k", "--games", f"Pong,{game}", "--dry-run"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.splitlines() == [
        f"diamond benchmark: --games: {game!r} is not an Atari 100k game; expected all, or names or Gymnasium ids "
        f"of: {', '.join(ATARI_100K_GAMES)} (e.g. Breakout or BreakoutNoFrameskip-v4)"
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["atari57"], "unknown benchmark 'atari57': expected one of atari100k"),
        (["atari100k", "--launcher", "ray"], "--launcher ray: expected one of basic, joblib, submitit"),
        (["atari100k", "common.seed=3"], "common.seed=3: give it with --seeds"),
        (["atari100k", "--bogus"], "unknown argument '--bogus': see `diamond benchmark --help`"),
        (["atari100k", "--seeds", "0", "denoiser.training.batch_size=x"], None),
    ],
)
def test_bad_arguments_are_one_line(args, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "benchmark", *args, "--dry-run"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1
    assert lines[0] == (
        f"diamond benchmark: {message}"
        if message
        else "diamond benchmark: invalid config: denoiser.training.batch_size: value 'x' is not an integer"
    )


def test_a_relaunch_sees_finished_and_unfinished_runs_and_results_reads_the_finished(
    tmp_path, monkeypatch, capsys
):
    # Run folders as the benchmark's jobs leave them (the real config and FINISHED writers, no training).
    sweep_dir = tmp_path / "bench"
    make_run(
        _run_dir(sweep_dir, "PongNoFrameskip-v4", 0), "PongNoFrameskip-v4", seed=0, returns=[-20.0, -18.0]
    )
    make_run(_run_dir(sweep_dir, "PongNoFrameskip-v4", 1), "PongNoFrameskip-v4", seed=1, returns=[-10.0])
    make_run(_run_dir(sweep_dir, "BreakoutNoFrameskip-v4", 0), "BreakoutNoFrameskip-v4", seed=0)  # unfinished
    monkeypatch.chdir(tmp_path)
    args = [
        "benchmark",
        "atari100k",
        "--games",
        "Pong,Breakout",
        "--seeds",
        "0-1",
        "--sweep-dir",
        str(sweep_dir),
    ]
    assert main(["-q", *args, "common.devices=cpu", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    status = {Path(path).name: s for s, path in (line.split() for line in out.splitlines())}
    assert status == {
        "common.seed=0,env.train.id=PongNoFrameskip-v4": "finished",
        "common.seed=1,env.train.id=PongNoFrameskip-v4": "finished",
        "common.seed=0,env.train.id=BreakoutNoFrameskip-v4": "resume",
        "common.seed=1,env.train.id=BreakoutNoFrameskip-v4": "new",
    }
    assert "4 runs (1 new, 1 to resume, 2 finished (skipped))" in err

    # Other settings in the same folder: refused, naming the folder.
    assert main(["-q", *args, "denoiser.training.batch_size=8", "--dry-run"]) == 2
    assert "holds a run of another configuration (denoiser.training.batch_size is 32 there, 8" in (
        capsys.readouterr().err
    )

    if importlib.util.find_spec("rliable") is None or importlib.util.find_spec("matplotlib") is None:
        pytest.skip("diamond results needs the eval extra (rliable, matplotlib)")
    res = run_cli("results", str(sweep_dir), "--compare", "paper", "--reps", "50", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    pong = next(line for line in res.stdout.splitlines() if line.startswith("Pong"))
    assert "-14.5" in pong  # the mean of the two finished runs: (-19 + -10) / 2
    assert "Breakout" in res.stderr and "not finished" in res.stderr


@pytest.mark.slow
def test_a_tiny_benchmark_trains_then_results_reads_it(tmp_path):
    # The whole path on one game and one seed, with tiny networks and a short episode cap (~1 min on 2 cores).
    sweep_dir = tmp_path / "bench"
    tiny = [o for o in TINY if not o.startswith("env")] + ["env.test.max_episode_steps=60"]
    res = run_cli(
        "benchmark", "atari100k", "--games", "Pong", "--seeds", "0", "--sweep-dir", str(sweep_dir),
        "--no-progress", *tiny, cwd=tmp_path, timeout=900,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    run = _run_dir(sweep_dir, "PongNoFrameskip-v4", 0)
    assert (run / "FINISHED").is_file()
    again = run_cli(
        "benchmark", "atari100k", "--games", "Pong", "--seeds", "0", "--sweep-dir", str(sweep_dir), *tiny
    )
    assert again.returncode == 0 and "1 run (1 finished (skipped))" in again.stderr
    if importlib.util.find_spec("rliable") is None:
        pytest.skip("diamond results needs the eval extra (rliable, matplotlib)")
    res = run_cli("results", str(sweep_dir), "--compare", "paper", "--reps", "50", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert any(line.startswith("Pong") for line in res.stdout.splitlines())
