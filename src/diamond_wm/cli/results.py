"""`diamond results`: the Atari 100k table and rliable aggregates of finished runs, beside the paper's."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diamond_wm.cli import errors

MISSING_EXTRA = 1

DESCRIPTION = """Collect the final scores of finished Atari 100k runs and report them as the field does: a per-game
table (ours: mean over runs; the paper's mean and [min, max] over its 5 seeds; random and human scores; HNS), then
IQM, mean, median and optimality gap of the human-normalised scores with 95% stratified-bootstrap confidence
intervals (rliable).

RUNS are run folders (a run's score is the mean return of its final test episodes, recorded in FINISHED), folders
of runs (outputs/, a sweep folder), `diamond eval --json` reports, or JSON files of final returns per game in the
published DIAMOND.json shape (such as the --out scores.json of an earlier report). Unfinished runs and games outside
Atari 100k are listed on stderr, one line each.

--compare paper adds the paper's aggregates on the same games and the probability of improvement over them; with
no RUNS it reports the paper's own scores (its Table 1 aggregates: mean HNS 1.459, IQM 0.641).

Needs the eval extra: pip install 'diamond-wm[eval]' (rliable, matplotlib).
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument(
        "runs", nargs="*", type=Path, metavar="RUNS", help="run folders, folders of runs, JSON files"
    )
    parser.add_argument(
        "--compare",
        choices=["paper"],
        default=None,
        help="compare with the paper's scores (DIAMOND, 5 seeds)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write scores.json (DIAMOND.json shape), aggregates.json and three PNG plots into DIR",
    )
    parser.add_argument(
        "--reps",
        type=int,
        default=None,
        metavar="N",
        help="bootstrap repetitions (default 50000 for the aggregates, as rliable; the performance profile "
        "uses at most 2000); 2000 gives a quick look",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")


_errors = errors.CommandErrors("diamond results")


def run(args: argparse.Namespace) -> int:
    if args.reps is not None and args.reps < 1:
        return _errors.fail(f"--reps must be >= 1, got {args.reps}")
    if not args.runs and args.compare != "paper":
        return _errors.fail(
            "no RUNS: give finished run folders, folders of runs or JSON score files "
            "(or --compare paper alone for the paper's own table)"
        )
    try:  # before reading anything: a missing extra is said at once
        import matplotlib  # noqa: F401
        import rliable  # noqa: F401

        from diamond_wm.results import aggregate
    except ImportError as e:
        return _errors.fail(
            f"needs rliable and matplotlib ({e}): pip install 'diamond-wm[eval]'", code=MISSING_EXTRA
        )
    from diamond_wm.results.collect import collect
    from diamond_wm.results.report import (
        aggregates_text,
        per_game_table,
        scores_json,
        summarize,
        summary_json,
    )

    ours = None
    if args.runs:
        collected = collect(list(args.runs))
        for line in collected.skipped:
            print(f"diamond results: skipped {line}", file=sys.stderr)
        for line in collected.notes:
            print(f"diamond results: note: {line}", file=sys.stderr)
        if not collected.runs:
            return _errors.fail(
                f"no finished Atari 100k run among the {len(args.runs)} path(s) given "
                f"({len(collected.skipped)} skipped, listed above)"
            )
        ours = {game: [r.score for r in runs] for game, runs in collected.by_game().items()}
    reps = args.reps if args.reps is not None else aggregate.AGGREGATE_REPS
    summary = summarize(ours, compare_paper=args.compare == "paper", reps=reps, seed=args.seed)
    print(per_game_table(ours))
    print()
    print(aggregates_text(summary), flush=True)
    if args.out is not None:
        from diamond_wm.results.plots import write_plots
        from diamond_wm.runtime.atomic import atomic_write_text

        written = []
        if ours:
            atomic_write_text(args.out / "scores.json", json.dumps(scores_json(ours), indent=4) + "\n")
            written.append(args.out / "scores.json")
        atomic_write_text(args.out / "aggregates.json", json.dumps(summary_json(summary), indent=2) + "\n")
        written.append(args.out / "aggregates.json")
        written += write_plots(summary, args.out, profile_reps=min(reps, aggregate.PROFILE_REPS))
        print()
        print("wrote " + ", ".join(str(p) for p in written))
    return 0
