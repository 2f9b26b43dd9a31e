"""The three figures of an Atari 100k report, as PNG files: aggregate intervals, performance profile, per-game HNS.

Drawn on `matplotlib.figure.Figure` with the Agg canvas: no pyplot, no display, no global backend switched.
The styles follow rliable's plots (a bar spanning the CI with a tick at the point estimate; score distributions
with their CI as a band) without importing its plotting module (which pulls seaborn).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from diamond_wm.results import aggregate
from diamond_wm.results.aggregate import METRICS
from diamond_wm.results.report import Summary
from diamond_wm.runtime.atomic import atomic_write

COLORS = ("#0173b2", "#de8f05", "#029e73", "#d55e00")  # seaborn's colorblind palette
PROFILE_TAUS = np.linspace(0.0, 8.0, 161)  # HNS thresholds, as in rliable's Atari 100k figures
HNS_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DPI = 150


def _figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    atomic_write(path, lambda f: f.write(buf.getvalue()))
    return path


def _colors(summary: Summary) -> dict[str, str]:
    return {name: COLORS[i % len(COLORS)] for i, name in enumerate(summary.methods)}


def aggregate_intervals(summary: Summary, path: Path) -> Path:
    """One panel per metric: per method, a bar over its 95% CI and a black tick at the point estimate."""
    methods, colors = summary.methods, _colors(summary)
    fig = _figure(3.2 * len(METRICS), 0.9 + 0.55 * len(methods))
    axes = fig.subplots(1, len(METRICS), sharey=True)
    for ax, metric in zip(axes, METRICS, strict=True):
        for i, name in enumerate(methods):
            iv = summary.aggregates[name][metric]
            ax.barh(i, iv.high - iv.low, left=iv.low, height=0.6, color=colors[name], alpha=0.75)
            ax.vlines(iv.point, i - 0.3, i + 0.3, color="k", alpha=0.6)
        ax.use_sticky_edges = False  # a CI of width 0 (one run per game) keeps its tick off the frame
        ax.margins(x=0.08)
        ax.set_title(metric)
        ax.set_yticks(range(len(methods)), methods)
        ax.grid(True, axis="x", alpha=0.25)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
    axes[0].invert_yaxis()  # shared: the first method on top
    fig.supxlabel(f"Human-normalised score ({len(summary.games)} games, 95% stratified-bootstrap CIs)")
    return _save(fig, path)


def performance_profile(summary: Summary, path: Path, reps: int = aggregate.PROFILE_REPS) -> Path:
    """Fraction of runs whose HNS exceeds tau, for tau in [0, 8], with its 95% CI as a band."""
    colors = _colors(summary)
    profiles = aggregate.performance_profiles(summary.hns, PROFILE_TAUS, reps=reps, seed=summary.seed)
    fig = _figure(6.4, 4.0)
    ax = fig.subplots()
    for name, (profile, low, high) in profiles.items():
        ax.plot(PROFILE_TAUS, profile, color=colors[name], linewidth=2, label=name)
        ax.fill_between(PROFILE_TAUS, low, high, color=colors[name], alpha=0.15)
    ax.axvline(1.0, color="0.4", linestyle=":", linewidth=1)
    ax.set_xlim(PROFILE_TAUS[0], PROFILE_TAUS[-1])
    ax.set_ylim(0.0, 1.0)
    ax.set_xlabel(r"Human-normalised score ($\tau$)")
    ax.set_ylabel(r"Fraction of runs with score $> \tau$")
    ax.set_title(f"Performance profile ({len(summary.games)} games)")
    ax.grid(True, alpha=0.25)
    ax.legend(loc="upper right", frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, path)


def per_game_hns(summary: Summary, path: Path) -> Path:
    """Per game, a bar at each method's mean HNS and a dot per run; a dashed line at the human score (1)."""
    methods, colors, games = summary.methods, _colors(summary), summary.games
    fig = _figure(7.0, 1.2 + 0.32 * len(games) * max(1, len(methods)) ** 0.5)
    ax = fig.subplots()
    height = 0.8 / len(methods)
    y = np.arange(len(games), dtype=np.float64)
    for k, name in enumerate(methods):
        # Every run, also those beyond the count the aggregates use.
        runs = [summary.per_game[name][g] for g in games]
        offset = y - 0.4 + height * (k + 0.5)
        ax.barh(
            offset, [np.mean(r) for r in runs], height=height * 0.9, color=colors[name], alpha=0.8, label=name
        )
        for yk, r in zip(offset, runs, strict=True):
            ax.plot(r, [yk] * len(r), "o", color="k", markersize=2, alpha=0.5)
    ax.axvline(1.0, color="0.3", linestyle="--", linewidth=1, label="human")
    ax.axvline(0.0, color="0.3", linewidth=0.8)
    ax.set_xscale("symlog", linthresh=1.0)
    values = [x for per_game in summary.per_game.values() for r in per_game.values() for x in r]
    low, high = min(0.0, min(values)), max(1.0, max(values))
    ticks = [t for t in HNS_TICKS if t < high] + [next((t for t in HNS_TICKS if t >= high), high)]
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.set_xlim(low - 0.05, ticks[-1] * 1.05)
    ax.set_yticks(y, games)
    ax.invert_yaxis()
    ax.set_xlabel("Human-normalised score (mean over runs; dots: runs; symlog scale)")
    ax.set_title("Per-game human-normalised scores")
    ax.grid(True, axis="x", alpha=0.25)
    ax.legend(loc="lower right", frameon=False, fontsize="small")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return _save(fig, path)


def write_plots(summary: Summary, out_dir: Path, profile_reps: int = aggregate.PROFILE_REPS) -> list[Path]:
    """The three PNG files in `out_dir`."""
    return [
        aggregate_intervals(summary, out_dir / "aggregate_intervals.png"),
        performance_profile(summary, out_dir / "performance_profile.png", reps=profile_reps),
        per_game_hns(summary, out_dir / "per_game_hns.png"),
    ]
