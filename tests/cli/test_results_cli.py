"""`diamond results`: from finished run folders to the Atari 100k table, aggregates, plots and JSON."""

from __future__ import annotations

import json
import sys

import pytest

pytest.importorskip("rliable", reason="rliable is in the eval and dev extras: pip install -e '.[dev]'")
pytest.importorskip("matplotlib", reason="matplotlib is in the eval and dev extras: pip install -e '.[dev]'")

from diamond_wm.cli.main import main
from diamond_wm.results.scores import paper_scores
from tests.conftest import run_cli
from tests.results.runs import make_run

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_compare_paper_alone_reproduces_the_papers_table_1():
    res = run_cli("results", "--compare", "paper", "--reps", "200")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert sum(line.split()[0] in paper_scores() for line in lines if line.strip()) == 26
    row = next(line for line in lines if line.startswith("DIAMOND (paper)"))
    iqm, mean = row.split()[2], row.split()[5]
    assert (iqm, mean) == ("0.641", "1.459")


def test_results_of_run_folders_table_plots_and_json(tmp_path, capsys, restore_logging):
    outputs = tmp_path / "outputs"
    make_run(outputs / "a", "BreakoutNoFrameskip-v4", seed=0, returns=[10.0, 14.0])
    make_run(outputs / "b", "BreakoutNoFrameskip-v4", seed=1, returns=[30.0, 32.0])
    make_run(outputs / "c", "PongNoFrameskip-v4", seed=0, returns=[-20.0, -19.0])
    make_run(outputs / "d", "PongNoFrameskip-v4", seed=1)  # not finished
    make_run(outputs / "e", env_preset="catch", seed=0, returns=[1.0])  # not an Atari 100k game
    out = tmp_path / "report"
    res = run_cli("results", str(outputs), "--compare", "paper", "--out", str(out), "--reps", "100")
    assert res.returncode == 0, res.stderr
    table = [line.split() for line in res.stdout.splitlines()]
    assert next(r for r in table if r and r[0] == "Breakout")[:4] == ["Breakout", "2", "21.5", "0.688"]
    assert next(r for r in table if r and r[0] == "Pong")[:4] == ["Pong", "1", "-19.5", "0.034"]
    assert "Probability of improvement P(ours > DIAMOND (paper)) over these 2 games" in res.stdout
    stderr = res.stderr.splitlines()
    skipped = [line for line in stderr if line.startswith("diamond results: skipped ")]
    assert len(skipped) == 2
    assert f"{outputs / 'd'} (Pong, seed 1): not finished" in skipped[0]
    assert "'diamond_wm/Catch-v0' is not one of the 26 Atari 100k games" in skipped[1]
    assert json.loads((out / "scores.json").read_text()) == {"Breakout": [12.0, 31.0], "Pong": [-19.5]}
    aggregates = json.loads((out / "aggregates.json").read_text())
    assert aggregates["games"] == ["Breakout", "Pong"] and aggregates["bootstrap_repetitions"] == 100
    for name in ("aggregate_intervals.png", "performance_profile.png", "per_game_hns.png"):
        data = (out / name).read_bytes()
        assert len(data) > 0 and data.startswith(PNG_SIGNATURE)
    # The JSON written is an input too: the same scores, the same table (in process: no need for another).
    assert main(["results", str(out / "scores.json"), "--reps", "100"]) == 0
    again = [line.split() for line in capsys.readouterr().out.splitlines()]
    games = ("Breakout", "Pong")
    assert [r[:4] for r in table if r and r[0] in games] == [r[:4] for r in again if r and r[0] in games]


@pytest.fixture
def in_process(restore_logging):
    """`main()` in this process (the errors need no subprocess)."""
    return main


def test_no_valid_run_is_one_error_line(tmp_path, capsys, in_process):
    make_run(tmp_path / "run", "PongNoFrameskip-v4", seed=1)
    code = in_process(["results", str(tmp_path / "run"), str(tmp_path / "missing"), "--reps", "10"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "diamond results: no finished Atari 100k run among the 2 path(s) given (2 skipped, listed above)"
    )
    assert err[:-1] == [
        f"diamond results: skipped {tmp_path / 'run'} (Pong, seed 1): not finished (no FINISHED); continue it "
        f"with `diamond train --resume {tmp_path / 'run'}`",
        f"diamond results: skipped {tmp_path / 'missing'}: no such file or folder",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "diamond results: no RUNS: give finished run folders, folders of runs or JSON score files "),
        (["--compare", "paper", "--reps", "0"], "diamond results: --reps must be >= 1, got 0"),
    ],
)
def test_bad_arguments_are_one_line(args, message, capsys, in_process):
    assert in_process(["results", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(message)


def test_without_the_eval_extra_one_line_says_how_to_install_it(monkeypatch, capsys, in_process):
    monkeypatch.setitem(sys.modules, "rliable", None)  # `import rliable` raises ImportError
    assert in_process(["results", "--compare", "paper"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diamond results: needs rliable and matplotlib (")
    assert err[0].endswith("pip install 'diamond-wm[eval]'")
