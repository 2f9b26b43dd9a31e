"""Learning curves of training runs against a random policy, and their final scores with standard errors.

    python scripts/learning_curves.py RUN [RUN ...] --random RANDOM.json [...] --out curve.png [--x epoch]

RUN: run folders of `diamond train` (their metrics.jsonl: the test returns of each evaluation, and FINISHED: the
returns of the final test episodes). RANDOM.json: `diamond eval RUN --epsilon 1 --json RANDOM.json`, uniformly
random actions on the same final test episodes as RUN (the run's seed and number of environments), one per RUN in
the same order. Prints one markdown row per run: final mean return +- standard error, random's on the same
episodes, and the margin in standard errors of the difference. `--x epoch`: the evaluations at their epoch
instead of their environment steps (for runs whose last epochs collect nothing, whose points share one step count).
Needs matplotlib (the eval extra).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

X_AXES = {"env_steps": "environment steps", "epoch": "epoch"}


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error of the mean (sample standard deviation, ddof 1)."""
    if not values:
        raise ValueError("no returns to average")
    n = len(values)
    mean = sum(values) / n
    if n == 1:
        return mean, float("nan")
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def read_curve(run: Path, x: str = "env_steps") -> list[tuple[int, float, float]]:
    """(x, mean test return, its standard error) at each evaluation of the run; x: its env steps or its epoch."""
    if x not in X_AXES:
        raise ValueError(f"x {x!r}: expected one of {', '.join(X_AXES)}")
    points = []
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        raise FileNotFoundError(f"{run}: no metrics.jsonl (expected a run folder of `diamond train`)")
    env_steps = 0
    for line in metrics.read_text().splitlines():
        row = json.loads(line)
        env_steps = row.get("env_steps", env_steps)
        if "test/returns" in row:
            at = env_steps if x == "env_steps" else int(row["epoch"])
            points.append((at, *mean_se([float(r) for r in row["test/returns"]])))
    return points


def read_final(run: Path) -> list[float]:
    finished = run / "FINISHED"
    if not finished.is_file():
        raise FileNotFoundError(f"{run}: no FINISHED (the run has not finished its final evaluation)")
    returns = json.loads(finished.read_text()).get("final/returns")
    if not returns:
        raise ValueError(f"{finished}: no final/returns")
    return [float(r) for r in returns]


def read_random(path: Path) -> list[float]:
    report = json.loads(path.read_text())
    if report.get("epsilon") != 1.0:
        raise ValueError(
            f"{path}: epsilon {report.get('epsilon')!r}, expected 1.0 (diamond eval RUN --epsilon 1)"
        )
    return [float(r) for r in report["returns"]]


def margin(ours: tuple[float, float], rand: tuple[float, float]) -> float:
    """How many standard errors of the difference the run's mean lies above random's."""
    return (ours[0] - rand[0]) / math.sqrt(ours[1] ** 2 + rand[1] ** 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--random", nargs="+", type=Path, required=True, help="one eval report per run")
    parser.add_argument("--out", type=Path, required=True, help="the figure (.png)")
    parser.add_argument("--title", default=None)
    parser.add_argument(
        "--x", choices=X_AXES, default="env_steps", help="horizontal axis (default: env_steps)"
    )
    args = parser.parse_args(argv)
    if len(args.random) != len(args.runs):
        parser.error(
            f"--random: {len(args.random)} reports for {len(args.runs)} runs (one per run, same order)"
        )

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    print("| run | final mean return | random, same episodes | margin (SE of the difference) |")
    print("|---|---|---|---|")
    for i, (run, rand_path) in enumerate(zip(args.runs, args.random, strict=True)):
        curve, final, rand = (
            read_curve(run, args.x),
            mean_se(read_final(run)),
            mean_se(read_random(rand_path)),
        )
        n_final, n_rand = len(read_final(run)), len(read_random(rand_path))
        color = f"C{i}"
        steps = [p[0] for p in curve]
        last_step = max(steps, default=0)  # the final episodes: after this run's last evaluation
        ax.errorbar(
            steps,
            [p[1] for p in curve],
            yerr=[p[2] for p in curve],
            color=color,
            marker="o",
            ms=3,
            capsize=2,
            label=f"{run.name}: test episodes",
        )
        ax.errorbar(
            [last_step],
            [final[0]],
            yerr=[final[1]],
            color=color,
            marker="*",
            ms=10,
            capsize=3,
            label=f"{run.name}: final {n_final} episodes",
        )
        ax.axhspan(rand[0] - rand[1], rand[0] + rand[1], color=color, alpha=0.15)
        ax.axhline(rand[0], color=color, ls=":", lw=1, label=f"random ({n_rand} episodes, same starts)")
        print(
            f"| {run.name} | {final[0]:+.2f} +- {final[1]:.2f} ({n_final} episodes) | {rand[0]:+.2f} +- "
            f"{rand[1]:.2f} ({n_rand}) | {margin(final, rand):.1f} |"
        )
    ax.set_xlabel(X_AXES[args.x])
    ax.set_ylabel("return (mean +- standard error)")
    if args.title:
        ax.set_title(args.title)
    ax.legend(fontsize=7, loc="best")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
