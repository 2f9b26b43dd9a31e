"""The table, the aggregates text and JSON, and the three PNG plots of `diamond results`."""

from __future__ import annotations

import pytest

pytest.importorskip("rliable", reason="rliable is in the eval and dev extras: pip install -e '.[dev]'")
pytest.importorskip("matplotlib", reason="matplotlib is in the eval and dev extras: pip install -e '.[dev]'")

from diamond_wm.results.plots import write_plots
from diamond_wm.results.report import (
    OURS,
    aggregates_text,
    per_game_table,
    scores_json,
    summarize,
    summary_json,
)
from diamond_wm.results.scores import PAPER_NAME, hns, paper_scores

REPS = 100
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_the_paper_alone_reproduces_its_table_1():
    summary = summarize(None, compare_paper=True, reps=REPS)
    assert summary.methods == [PAPER_NAME] and len(summary.games) == 26
    text = aggregates_text(summary)
    assert "over 26 of 26 games (DIAMOND (paper): 5 run(s) per game)" in text
    row = next(line for line in text.splitlines() if line.startswith(PAPER_NAME))
    assert row.split()[2] == "0.641" and row.split()[5] == "1.459"  # IQM, then mean
    assert row.endswith("11 of 26")  # superhuman games, as the paper counts them
    table = per_game_table(None).splitlines()
    assert len(table) == 2 + 26 and "ours" not in table[0]
    assert table[2].split()[:4] == ["Alien", "744.1", "[597.0,", "910.1]"]


def test_ours_against_the_paper_on_the_same_games_with_equal_runs_per_game():
    ours = {"Pong": [20.0], "Breakout": [30.5, 1.7, 16.1]}  # HNS 1.16; 1, 0, 0.5
    summary = summarize(ours, compare_paper=True, reps=REPS)
    assert summary.games == ["Breakout", "Pong"]  # the benchmark's order
    assert summary.hns[OURS].shape == (1, 2) and summary.hns[PAPER_NAME].shape == (5, 2)
    assert summary.left_out == ["Breakout: 2 of 3 runs"]
    assert summary.hns[OURS][0, 0] == pytest.approx(1.0)  # the first run of Breakout
    assert summary.per_game[OURS]["Breakout"] == pytest.approx([1.0, 0.0, 0.5])  # every run, for the plots
    assert summary.improvement is not None and 0.0 <= summary.improvement.point <= 1.0
    assert "left out of the aggregates" in aggregates_text(summary)
    assert "P(ours > DIAMOND (paper)) over these 2 games" in aggregates_text(summary)
    data = summary_json(summary)
    assert set(data["methods"]) == {OURS, PAPER_NAME}
    assert data["methods"][OURS]["Mean"]["point"] == pytest.approx((1.0 + hns("Pong", 20.0)) / 2)
    table = per_game_table(ours).splitlines()
    assert table[2].split()[:4] == ["Breakout", "3", "16.1", "0.500"]


def test_the_paper_against_itself_is_a_coin_flip():
    summary = summarize(paper_scores(), compare_paper=True, reps=REPS)
    assert summary.aggregates[OURS] == summary.aggregates[PAPER_NAME]
    assert summary.improvement.point == pytest.approx(0.5)


def test_scores_json_has_the_published_shape():
    ours = {"Pong": [20.0, 19], "Alien": [700.5]}
    assert scores_json(ours) == {"Alien": [700.5], "Pong": [20.0, 19.0]}
    assert scores_json(paper_scores()) == paper_scores()


def test_plots_are_written_as_non_empty_png_files(tmp_path):
    summary = summarize({"Pong": [20.0, -21.0], "Boxing": [50.0, 90.0]}, compare_paper=True, reps=REPS)
    paths = write_plots(summary, tmp_path / "plots", profile_reps=REPS)
    assert [p.name for p in paths] == [
        "aggregate_intervals.png",
        "performance_profile.png",
        "per_game_hns.png",
    ]
    for p in paths:
        data = p.read_bytes()
        assert len(data) > 1000 and data.startswith(PNG_SIGNATURE)
    assert sorted(q.name for q in (tmp_path / "plots").iterdir()) == sorted(p.name for p in paths)
