"""Aggregates of human-normalised scores: the paper's Table 1 numbers, recomputed by hand and through rliable."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("rliable", reason="rliable is in the eval and dev extras: pip install -e '.[dev]'")

from diamond_wm.config.atari_100k import ATARI_100K_GAMES
from diamond_wm.results import aggregate
from diamond_wm.results.scores import hns, paper_scores

REPS = 200  # small: the tests check the plumbing, not the CI's precision


@pytest.fixture(scope="module")
def paper_hns() -> np.ndarray:
    paper = paper_scores()
    return np.array([[hns(g, paper[g][i]) for g in ATARI_100K_GAMES] for i in range(5)])  # (5 runs, 26 games)


def _plain_iqm(x: np.ndarray) -> float:
    """The 25% trimmed mean of all runs pooled, as a loop: drop the lowest and highest quarter, average the rest."""
    values = sorted(float(v) for v in x.ravel())
    cut = int(0.25 * len(values))
    kept = values[cut : len(values) - cut]
    return sum(kept) / len(kept)


def test_the_paper_reports_mean_1_459_and_iqm_0_641(paper_hns):
    from rliable import metrics

    # Directly: HNS of each run, mean over runs per game, then over games; the IQM pools all 130 runs.
    assert paper_hns.shape == (5, 26)
    assert round(float(paper_hns.mean(axis=0).mean()), 3) == 1.459
    assert round(_plain_iqm(paper_hns), 3) == 0.641
    # Through rliable's estimators, and through our bootstrap wrapper (its point estimates).
    assert round(float(metrics.aggregate_mean(paper_hns)), 3) == 1.459
    assert round(float(metrics.aggregate_iqm(paper_hns)), 3) == 0.641
    agg = aggregate.aggregates(paper_hns, reps=REPS)
    assert round(agg["Mean"].point, 3) == 1.459 and round(agg["IQM"].point, 3) == 0.641
    assert agg["Median"].point == pytest.approx(float(np.median(paper_hns.mean(axis=0))))
    assert agg["Optimality gap"].point == pytest.approx(1 - float(np.minimum(paper_hns, 1).mean()))
    for iv in agg.values():
        assert iv.low <= iv.point <= iv.high


def test_bootstrap_repeats_with_its_seed_and_leaves_numpy_global_rng_alone(paper_hns):
    np.random.seed(123)
    expected_next = np.random.rand()
    np.random.seed(123)
    a = aggregate.aggregates(paper_hns, reps=REPS, seed=1)
    assert np.random.rand() == expected_next
    assert aggregate.aggregates(paper_hns, reps=REPS, seed=1) == a
    assert aggregate.aggregates(paper_hns, reps=REPS, seed=2) != a


def test_probability_of_improvement_matches_rliable_and_bounds():
    from rliable import metrics

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(3, 6)), rng.normal(size=(5, 6))
    y[:, 0] = x[0, 0]  # ties count half
    assert aggregate.probability_of_improvement_point(x, y) == pytest.approx(
        float(metrics.probability_of_improvement(x, y))
    )
    same = aggregate.probability_of_improvement(x, x, reps=REPS)
    assert same.point == pytest.approx(0.5)
    better = aggregate.probability_of_improvement(x + 100, y, reps=REPS)
    assert better.point == better.low == better.high == 1.0


def test_performance_profile_is_the_share_of_runs_above_tau(paper_hns):
    taus = np.array([0.0, 1.0, 100.0])
    profile, low, high = aggregate.performance_profiles({"paper": paper_hns}, taus, reps=REPS)["paper"]
    assert profile[1] == pytest.approx(float((paper_hns > 1.0).mean()))
    assert profile[2] == 0.0 and (low <= profile).all() and (profile <= high).all()


@pytest.mark.parametrize(
    "scores, fragment",
    [
        (np.zeros((0, 3)), r"expected a \(runs, games\) matrix with at least one of each, got \(0, 3\)"),
        (np.zeros(4), r"got \(4,\)"),
        (np.array([[0.0, np.nan]]), "expected finite scores, got nan"),
    ],
)
def test_bad_matrices_are_named(scores, fragment):
    with pytest.raises(ValueError, match=fragment):
        aggregate.aggregates(scores, reps=REPS)


def test_bad_reps_and_games_are_named():
    with pytest.raises(ValueError, match="bootstrap repetitions must be >= 1, got 0"):
        aggregate.aggregates(np.ones((2, 2)), reps=0)
    with pytest.raises(ValueError, match="same games, got 2 and 3 games"):
        aggregate.probability_of_improvement(np.ones((2, 2)), np.ones((2, 3)), reps=REPS)
