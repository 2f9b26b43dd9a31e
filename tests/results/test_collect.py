"""Final scores collected from run folders, eval reports and score files; what is not used is said, one line each."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diamond_wm.results.collect import collect, find_run_folders
from diamond_wm.results.scores import paper_scores
from tests.results.runs import make_published_run, make_run


@pytest.fixture(scope="module")
def outputs(tmp_path_factory) -> Path:
    """outputs/ with two finished Breakout runs, a finished and an unfinished Pong run, a finished Catch run and a
    finished run of the published code."""
    root = tmp_path_factory.mktemp("outputs")
    make_run(root / "2026-11-01" / "10-00-00", "BreakoutNoFrameskip-v4", seed=1, returns=[30.0, 32.0])
    make_run(root / "2026-11-01" / "11-00-00", "BreakoutNoFrameskip-v4", seed=0, returns=[10.0, 14.0])
    make_run(root / "2026-11-02" / "10-00-00", "PongNoFrameskip-v4", seed=0, returns=[-20.0, -19.0])
    make_run(root / "2026-11-02" / "11-00-00", "PongNoFrameskip-v4", seed=1)
    make_run(root / "2026-11-03" / "10-00-00", env_preset="catch", seed=0, returns=[1.0])
    make_published_run(root / "published")
    return root


def test_a_folder_of_runs_gives_the_finished_atari_100k_runs_by_game_and_seed(outputs):
    found = collect([outputs])
    by_game = found.by_game()
    assert list(by_game) == ["Breakout", "Pong"]
    assert [(r.seed, r.score, r.num_episodes) for r in by_game["Breakout"]] == [(0, 12.0, 2), (1, 31.0, 2)]
    assert [(r.seed, r.score) for r in by_game["Pong"]] == [(0, -19.5)]
    assert by_game["Breakout"][0].source == str(outputs / "2026-11-01" / "11-00-00")


def test_unfinished_runs_other_games_and_published_runs_are_reported_one_line_each(outputs):
    skipped = collect([outputs]).skipped
    assert len(skipped) == 3 and all("\n" not in line for line in skipped)
    unfinished, catch, published = skipped
    assert unfinished.startswith(f"{outputs / '2026-11-02' / '11-00-00'} (Pong, seed 1): not finished")
    assert "diamond train --resume" in unfinished
    assert "'diamond_wm/Catch-v0' is not one of the 26 Atari 100k games" in catch
    assert published.startswith(f"{outputs / 'published'} (Pong): a run of the published code")
    assert f"diamond eval {outputs / 'published'} --json FILE" in published


def test_scores_over_fewer_than_100_final_episodes_are_noted(outputs):
    notes = collect([outputs]).notes
    assert len(notes) == 3
    assert all("score over 2 final episodes (the paper's: 100)" in n for n in notes)


def test_run_folders_are_found_without_looking_inside_runs(outputs):
    found = find_run_folders(outputs)
    assert len(found) == 6 and outputs / "published" in found


def test_a_run_given_twice_counts_once(outputs):
    run = outputs / "2026-11-01" / "10-00-00"
    found = collect([run, outputs])
    assert len(found.by_game()["Breakout"]) == 2
    assert f"{run}: given more than once, counted once" in found.notes


def test_finished_without_final_episodes_and_damaged_markers(tmp_path):
    static = make_run(tmp_path / "static", returns=[1.0])
    (static / "FINISHED").write_text("{}")
    damaged = make_run(tmp_path / "damaged", returns=[1.0])
    (damaged / "FINISHED").write_text("{not json")
    skipped = collect([static, damaged]).skipped
    assert "finished without final test episodes" in skipped[0]
    assert skipped[1].startswith(f"{damaged / 'FINISHED'}: unreadable")


def test_eval_reports_are_runs(tmp_path):
    from diamond_wm.evaluation.evaluate import EvalReport

    def report(env_id: str, returns: list[float], epsilon: float = 0.0) -> dict:
        mean = sum(returns) / len(returns)
        return EvalReport(
            checkpoint="x.pt",
            env_id=env_id,
            num_episodes=len(returns),
            epsilon=epsilon,
            seed=0,
            returns=returns,
            lengths=[1] * len(returns),
            return_mean=mean,
            return_std=0.0,
            length_mean=1.0,
        ).to_dict()

    good = tmp_path / "breakout.json"
    good.write_text(json.dumps(report("BreakoutNoFrameskip-v4", [4.0] * 100)))
    greedy = tmp_path / "pong.json"
    greedy.write_text(json.dumps(report("PongNoFrameskip-v4", [1.0, 3.0], epsilon=0.05)))
    v5 = tmp_path / "v5.json"
    v5.write_text(json.dumps(report("ALE/Breakout-v5", [4.0])))
    found = collect([good, greedy, v5])
    assert [(r.game, r.score, r.num_episodes) for r in found.runs] == [
        ("Breakout", 4.0, 100),
        ("Pong", 2.0, 2),
    ]
    assert found.notes == [
        f"{greedy} (Pong): score over 2 episodes (the paper's: 100)",
        f"{greedy} (Pong): episodes played with epsilon 0.05 (the paper's: 0)",
    ]
    assert found.skipped == [
        f"{v5}: env id 'ALE/Breakout-v5' is not the Atari 100k protocol's: its scores compare with the "
        "paper's only as 'BreakoutNoFrameskip-v4'"
    ]


def test_score_files_in_the_published_shape_give_one_run_per_value(tmp_path):
    path = tmp_path / "DIAMOND.json"
    data = paper_scores() | {"Tetris": [1.0], "Pong": [20.0, "n/a"]}
    path.write_text(json.dumps(data))
    found = collect([path])
    assert len(found.runs) == 25 * 5 + 1
    assert found.by_game()["Alien"][0].source == f"{path}[Alien][0]"
    assert [line.split(": ", 1)[1] for line in found.skipped] == [
        "Pong[1] is 'n/a', expected a number",
        "'Tetris' is not one of the 26 Atari 100k games (Alien, Amidar, Assault, Asterix, BankHeist, BattleZone, "
        "Boxing, Breakout, ChopperCommand, CrazyClimber, DemonAttack, Freeway, Frostbite, Gopher, Hero, Jamesbond, "
        "Kangaroo, Krull, KungFuMaster, MsPacman, Pong, PrivateEye, Qbert, RoadRunner, Seaquest, UpNDown)",
    ]


def test_paths_that_hold_nothing_usable(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "list.json").write_text("[1, 2]")
    found = collect(
        [tmp_path / "missing", tmp_path / "empty", tmp_path / "notes.txt", tmp_path / "list.json"]
    )
    assert found.runs == []
    assert found.skipped == [
        f"{tmp_path / 'missing'}: no such file or folder",
        f"{tmp_path / 'empty'}: no run folder in it (config/trainer.yaml, FINISHED)",
        f"{tmp_path / 'notes.txt'}: not a JSON file (Expecting value: line 1 column 1 (char 0))",
        f"{tmp_path / 'list.json'}: neither a diamond eval report (env_id, return_mean) nor a game -> final "
        "returns mapping (the published DIAMOND.json shape)",
    ]
