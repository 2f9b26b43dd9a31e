"""What `diamond results` prints and writes: the per-game table, the aggregates with their CIs, and the JSON files.

`summarize` turns final returns per game into HNS matrices (runs, games) with as many runs per game as the game
with the fewest has (pooled aggregates such as the IQM would otherwise weigh the games with more seeds more), then
into rliable aggregates; with the paper as comparison, the paper's runs of the same games and the probability of
improvement over them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from diamond_wm.config.atari_100k import ATARI_100K_GAMES
from diamond_wm.results import aggregate
from diamond_wm.results.aggregate import METRICS, Interval
from diamond_wm.results.scores import PAPER_NAME, hns, human_scores, paper_scores, random_scores

OURS = "ours"


@dataclass
class Summary:
    """Aggregates of one or two methods over the same games."""

    games: list[str]
    hns: dict[str, np.ndarray]  # method -> HNS matrix (runs, games) the aggregates are computed on
    aggregates: dict[str, dict[str, Interval]]
    reps: int
    seed: int
    per_game: dict[str, dict[str, list[float]]] = field(
        default_factory=dict
    )  # method -> game -> HNS of all runs
    improvement: Optional[Interval] = None  # P(ours > paper), when both are present
    left_out: list[str] = field(default_factory=list)  # "Breakout: 2 of 7 runs" (beyond the common count)

    @property
    def methods(self) -> list[str]:
        return list(self.hns)

    def superhuman(self, method: str) -> int:
        """Games whose mean score over the method's runs is above the human score."""
        return int((self.hns[method].mean(axis=0) > 1.0).sum())


def hns_matrix(runs: dict[str, list[float]], games: list[str], num_runs: int) -> np.ndarray:
    """(num_runs, games) HNS of the first `num_runs` returns of each game."""
    return np.array([[hns(g, runs[g][i]) for g in games] for i in range(num_runs)], dtype=np.float64)


def summarize(
    ours: Optional[dict[str, list[float]]],
    compare_paper: bool,
    reps: int = aggregate.AGGREGATE_REPS,
    seed: int = 0,
) -> Summary:
    """Aggregates of `ours` (game -> final returns), and of the paper on the same games when `compare_paper`;
    of the paper alone on its 26 games when `ours` is empty."""
    paper = paper_scores()
    methods: dict[str, dict[str, list[float]]] = {}
    if ours:
        methods[OURS] = ours
    if compare_paper or not ours:
        methods[PAPER_NAME] = paper
    games = [g for g in ATARI_100K_GAMES if g in (ours or paper)]
    matrices, left_out = {}, []
    for name, runs in methods.items():
        n = min(len(runs[g]) for g in games)
        matrices[name] = hns_matrix(runs, games, n)
        if name == OURS:
            left_out = [f"{g}: {len(runs[g]) - n} of {len(runs[g])} runs" for g in games if len(runs[g]) > n]
    summary = Summary(
        games=games,
        hns=matrices,
        aggregates={name: aggregate.aggregates(m, reps=reps, seed=seed) for name, m in matrices.items()},
        reps=reps,
        seed=seed,
        per_game={name: {g: [hns(g, x) for x in runs[g]] for g in games} for name, runs in methods.items()},
        left_out=left_out,
    )
    if OURS in matrices and PAPER_NAME in matrices:
        summary.improvement = aggregate.probability_of_improvement(
            matrices[OURS], matrices[PAPER_NAME], reps=reps, seed=seed
        )
    return summary


def _num(x: float) -> str:
    return f"{x:.1f}"


def per_game_table(ours: Optional[dict[str, list[float]]]) -> str:
    """One row per game of `ours` (runs, mean, HNS), with the paper's mean, [min, max] and HNS, random and human;
    the paper's 26 games without the `ours` columns when `ours` is empty."""
    paper, human, rand = paper_scores(), human_scores(), random_scores()
    games = [g for g in ATARI_100K_GAMES if g in ours] if ours else list(ATARI_100K_GAMES)
    ours_header = f" {'runs':>4} {'ours':>10} {'HNS':>7} " if ours else ""
    header = (
        f"{'game':<15}{ours_header} {'paper mean':>10} {'[min, max] of 5 seeds':<22} {'HNS':>7}  "
        f"{'random':>8} {'human':>8}"
    )
    lines = [header, "-" * len(header)]
    for g in games:
        cells = ""
        if ours:
            mean = float(np.mean(ours[g]))
            cells = f" {len(ours[g]):>4} {_num(mean):>10} {hns(g, mean):>7.3f} "
        p_mean = float(np.mean(paper[g]))
        span = f"[{_num(min(paper[g]))}, {_num(max(paper[g]))}]"
        lines.append(
            f"{g:<15}{cells} {_num(p_mean):>10} {span:<22} {hns(g, p_mean):>7.3f}  "
            f"{_num(rand[g]):>8} {_num(human[g]):>8}"
        )
    return "\n".join(lines)


def _interval(iv: Interval) -> str:
    return f"{iv.point:.3f} [{iv.low:.3f}, {iv.high:.3f}]"


def aggregates_text(summary: Summary) -> str:
    """The aggregates of each method with their CIs, the probability of improvement and the superhuman count."""
    n_games = len(summary.games)
    counts = ", ".join(f"{name}: {m.shape[0]} run(s) per game" for name, m in summary.hns.items())
    lines = [
        f"Human-normalised scores over {n_games} of {len(ATARI_100K_GAMES)} games ({counts}); "
        f"95% stratified-bootstrap CIs (rliable, {summary.reps} repetitions, seed {summary.seed}):"
    ]
    if summary.left_out:
        lines.append(
            "  left out of the aggregates, beyond the runs every game has: " + "; ".join(summary.left_out)
        )
    width = max(len(name) for name in summary.methods) + 2
    lines.append(" " * width + "".join(f"{metric:<24}" for metric in METRICS) + "superhuman games")
    for name in summary.methods:
        cells = "".join(f"{_interval(summary.aggregates[name][metric]):<24}" for metric in METRICS)
        lines.append(f"{name:<{width}}{cells}{summary.superhuman(name)} of {n_games}")
    if summary.improvement is not None:
        lines.append(
            f"Probability of improvement P({OURS} > {PAPER_NAME}) over these {n_games} games: "
            f"{_interval(summary.improvement)}"
        )
    return "\n".join(lines)


def scores_json(ours: dict[str, list[float]]) -> dict[str, list[float]]:
    """Final returns per game, in the published `DIAMOND.json` shape (game -> one return per run)."""
    return {g: [float(x) for x in ours[g]] for g in ATARI_100K_GAMES if g in ours}


def summary_json(summary: Summary) -> dict[str, Any]:
    """The aggregates as data: per method, metric -> {point, low, high}; games, runs, repetitions."""
    out: dict[str, Any] = {
        "games": summary.games,
        "confidence": aggregate.CONFIDENCE,
        "bootstrap_repetitions": summary.reps,
        "bootstrap_seed": summary.seed,
        "methods": {
            name: {
                "runs_per_game": int(summary.hns[name].shape[0]),
                "superhuman_games": summary.superhuman(name),
                **{metric: iv.to_dict() for metric, iv in summary.aggregates[name].items()},
            }
            for name in summary.methods
        },
    }
    if summary.improvement is not None:
        out["probability_of_improvement"] = {"x": OURS, "y": PAPER_NAME, **summary.improvement.to_dict()}
    if summary.left_out:
        out["left_out"] = summary.left_out
    return out
