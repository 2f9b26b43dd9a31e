"""A component's training loss over its first updates: runs of one setting against the spread of another's.

    python scripts/loss_curves.py --reference RUN [RUN ...] --candidate RUN [RUN ...] \
        [--component denoiser] [--updates 500] [--window 25] [--out curves.png]

The runs are `diamond train` run folders; their metrics.jsonl record every update's loss
(`<component>/loss_per_update`). Each run's curve is smoothed with a trailing moving average of `--window` updates;
the reference runs' curves make a band (their minimum and maximum at each update). Prints, for each candidate run,
the share of its first `--updates` updates (from the window's end on) whose smoothed loss lies inside the band,
and its mean loss against the reference runs'. Needs matplotlib for --out (the eval extra).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def per_update_losses(run: Path, component: str) -> list[float]:
    """Every update's loss of `component` in `run`, in order (epochs concatenated)."""
    metrics = run / "metrics.jsonl"
    if not metrics.is_file():
        raise FileNotFoundError(f"{run}: no metrics.jsonl (expected a run folder of `diamond train`)")
    key, losses = f"{component}/loss_per_update", []
    for line in metrics.read_text().splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:  # a last line cut short by a crash
            continue
        losses.extend(float(v) for v in row.get(key, []))
    if not losses:
        raise ValueError(f"{metrics}: no {key} (runs record it from this version on)")
    return losses


def smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average; the first window-1 points average what there is."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def inside_share(candidate: list[float], references: list[list[float]], start: int) -> float:
    """Share of the candidate's points from `start` on inside the references' [min, max] at the same update."""
    n = min(len(candidate), *(len(r) for r in references))
    if n <= start:
        raise ValueError(f"{n} updates in common, fewer than the window ({start})")
    inside = sum(
        min(r[i] for r in references) <= candidate[i] <= max(r[i] for r in references)
        for i in range(start, n)
    )
    return inside / (n - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reference", nargs="+", type=Path, required=True, help="runs making the band")
    parser.add_argument("--candidate", nargs="+", type=Path, required=True, help="runs compared with it")
    parser.add_argument(
        "--component", default="denoiser", help="denoiser, rew_end_model, actor_critic, upsampler"
    )
    parser.add_argument("--updates", type=int, default=500, help="first updates compared (default 500)")
    parser.add_argument("--window", type=int, default=25, help="moving-average window (default 25)")
    parser.add_argument("--out", type=Path, default=None, help="figure (.png)")
    args = parser.parse_args(argv)
    if args.updates < 1 or args.window < 1:
        parser.error(f"--updates and --window must be >= 1, got {args.updates} and {args.window}")

    def curve(run: Path) -> tuple[list[float], list[float]]:
        raw = per_update_losses(run, args.component)[: args.updates]
        return raw, smooth(raw, args.window)

    refs = {run: curve(run) for run in args.reference}
    cands = {run: curve(run) for run in args.candidate}
    ref_smooth = [s for _, s in refs.values()]
    ref_mean = sum(sum(raw) / len(raw) for raw, _ in refs.values()) / len(refs)
    print(f"{args.component}, first {args.updates} updates, moving average of {args.window}")
    print(f"reference runs: mean loss {ref_mean:.4f} ({', '.join(str(r) for r in refs)})")
    # A run exchangeable with the n reference runs lies inside their range with probability (n - 1) / (n + 1).
    n_ref = len(refs)
    print(
        f"a run like the reference runs: inside their band {100 * (n_ref - 1) / (n_ref + 1):.0f}% of the time"
    )
    for run, (raw, sm) in cands.items():
        share = inside_share(sm, ref_smooth, args.window - 1)
        print(
            f"{run}: mean loss {sum(raw) / len(raw):.4f}, {100 * share:.0f}% of updates inside the reference band"
        )

    if args.out is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
        n = min(len(s) for s in ref_smooth)
        ax.fill_between(
            range(1, n + 1),
            [min(r[i] for r in ref_smooth) for i in range(n)],
            [max(r[i] for r in ref_smooth) for i in range(n)],
            color="C0",
            alpha=0.3,
            label=f"reference: {len(refs)} runs (min-max)",
        )
        for k, (run, (_, sm)) in enumerate(cands.items()):
            ax.plot(range(1, len(sm) + 1), sm, color=f"C{k + 1}", lw=1, label=str(run.name))
        ax.set_yscale("log")
        ax.set_xlabel("update")
        ax.set_ylabel(f"{args.component} loss (moving average of {args.window})")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        args.out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(args.out)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
