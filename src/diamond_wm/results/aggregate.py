"""Aggregates of human-normalised scores with 95% stratified-bootstrap confidence intervals, through rliable
(Agarwal et al., "Deep Reinforcement Learning at the Edge of the Statistical Precipice", NeurIPS 2021).

Scores are matrices (runs, games) of HNS, as rliable takes them: every game has the same number of runs. IQM is the
25% trimmed mean of all runs pooled; mean and median are over the games' mean scores; the optimality gap is
1 - mean(min(score, 1)). A bootstrap resamples runs within each game (stratified). rliable draws from NumPy's
global generator: it is seeded here and restored afterwards, so results repeat and callers' draws are untouched
(its progress lines, logged through absl at INFO, are muted meanwhile).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

METRICS = ("IQM", "Mean", "Median", "Optimality gap")
AGGREGATE_REPS = 50_000  # rliable's default for interval estimates
PROFILE_REPS = 2_000  # rliable's default for performance profiles
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate and its confidence interval."""

    point: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"point": self.point, "low": self.low, "high": self.high}


def _rliable():
    """rliable's `library` and `metrics` modules; ImportError naming the extra that installs them."""
    try:
        from rliable import library, metrics
    except ImportError as e:
        raise ImportError(
            f"rliable is needed for the aggregates ({e}): pip install 'diamond-wm[eval]'"
        ) from e
    return library, metrics


@contextmanager
def _seeded_and_quiet(seed: int) -> Iterator[None]:
    state = np.random.get_state()
    absl_log = logging.getLogger("absl")
    level = absl_log.level
    np.random.seed(seed)
    absl_log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        np.random.set_state(state)
        absl_log.setLevel(level)


def check_matrix(scores: np.ndarray, what: str = "scores") -> np.ndarray:
    """`scores` as a float (runs, games) matrix; ValueError naming its shape when it is not one."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 2 or scores.shape[0] < 1 or scores.shape[1] < 1:
        raise ValueError(
            f"{what}: expected a (runs, games) matrix with at least one of each, got {scores.shape}"
        )
    if not np.isfinite(scores).all():
        raise ValueError(f"{what}: expected finite scores, got {scores[~np.isfinite(scores)][0]}")
    return scores


def _check_reps(reps: int) -> None:
    if reps < 1:
        raise ValueError(f"bootstrap repetitions must be >= 1, got {reps}")


def _aggregate_func() -> Callable[[np.ndarray], np.ndarray]:
    _, metrics = _rliable()

    def func(x: np.ndarray) -> np.ndarray:  # in the order of METRICS
        return np.array(
            [
                metrics.aggregate_iqm(x),
                metrics.aggregate_mean(x),
                metrics.aggregate_median(x),
                metrics.aggregate_optimality_gap(x),
            ]
        )

    return func


def aggregates(
    scores: np.ndarray, reps: int = AGGREGATE_REPS, seed: int = 0, confidence: float = CONFIDENCE
) -> dict[str, Interval]:
    """IQM, mean, median and optimality gap of a (runs, games) HNS matrix, with stratified-bootstrap CIs."""
    scores = check_matrix(scores)
    _check_reps(reps)
    library, _ = _rliable()
    with _seeded_and_quiet(seed):
        points, intervals = library.get_interval_estimates(
            {"x": scores}, _aggregate_func(), reps=reps, confidence_interval_size=confidence
        )
    return {
        name: Interval(float(points["x"][i]), float(intervals["x"][0, i]), float(intervals["x"][1, i]))
        for i, name in enumerate(METRICS)
    }


def probability_of_improvement_point(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) averaged over games: per game, the share of run pairs where x beats y, ties counting half.

    The same number as rliable's `metrics.probability_of_improvement` (its Mann-Whitney U over the pairs), computed
    over all pairs at once so that thousands of bootstrap repetitions take seconds."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    diff = x[:, None, :] - y[None, :, :]  # (runs_x, runs_y, games)
    per_game = (diff > 0).mean(axis=(0, 1)) + 0.5 * (diff == 0).mean(axis=(0, 1))
    return float(per_game.mean())


def probability_of_improvement(
    x: np.ndarray, y: np.ndarray, reps: int = AGGREGATE_REPS, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """P(X > Y) of two HNS matrices over the same games (runs may differ), with a bootstrap CI over both."""
    x, y = check_matrix(x, "x"), check_matrix(y, "y")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must score the same games, got {x.shape[1]} and {y.shape[1]} games")
    _check_reps(reps)
    library, _ = _rliable()
    with _seeded_and_quiet(seed):
        points, intervals = library.get_interval_estimates(
            {"x": [x, y]},
            lambda a, b: np.array([probability_of_improvement_point(a, b)]),
            reps=reps,
            confidence_interval_size=confidence,
        )
    return Interval(float(points["x"][0]), float(intervals["x"][0, 0]), float(intervals["x"][1, 0]))


def performance_profiles(
    scores: Mapping[str, np.ndarray],
    taus: np.ndarray,
    reps: int = PROFILE_REPS,
    seed: int = 0,
    confidence: float = CONFIDENCE,
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per method: (fraction of runs with HNS > tau, CI low, CI high) at each tau (rliable's score distributions)."""
    _check_reps(reps)
    library, _ = _rliable()
    checked = {name: check_matrix(m, name) for name, m in scores.items()}
    with _seeded_and_quiet(seed):
        profiles, cis = library.create_performance_profile(
            checked, np.asarray(taus, dtype=np.float64), reps=reps, confidence_interval_size=confidence
        )
    return {name: (np.asarray(profiles[name]), cis[name][0], cis[name][1]) for name in checked}
