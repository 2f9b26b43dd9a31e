"""`diamond benchmark atari100k`: the 26 games of Atari 100k x seeds as one sweep of ordinary run folders.

Each run is `diamond train env.train.id=<Game>NoFrameskip-v4 common.seed=<seed>` with the paper's settings (plus
any KEY=VALUE given), in `<sweep dir>/common.seed=<seed>,env.train.id=<id>`. Launching the same command again
skips the finished runs and resumes the others (see `diamond_wm.cli.sweep`); `diamond results <sweep dir>
--compare paper` then reads the finished runs.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from diamond_wm.cli import errors

SUITES = ("atari100k",)
DEFAULT_SWEEP_DIR = Path("multirun") / "atari100k"
DEFAULT_SEEDS = "0-4"  # the paper's 5 seeds
# --launcher NAME -> Hydra's launcher (hydra/launcher=...); basic: one run after the other, in this process.
LAUNCHERS = {"basic": None, "joblib": "joblib", "submitit": "submitit_slurm"}
NAME_KEYS = ("env.train.id", "common.seed")  # what names a run folder of the benchmark

HELP = f"""usage: diamond benchmark atari100k [--games G1,G2 | all] [--seeds 0-4] [--launcher basic|joblib|submitit]
                                    [--sweep-dir DIR] [--dry-run] [--no-progress] [KEY=VALUE ...]

Train on the 26 games of the Atari 100k benchmark x seeds, each run an ordinary run folder of `diamond train`
(the paper's settings), as one Hydra sweep. Launch the same command again to resume: finished runs are skipped,
unfinished ones continue from their last checkpoint. Then: diamond results DIR --compare paper

options:
  -h, --help          show this help and exit
  --games G1,G2|all   games by name (Breakout) or Gymnasium id (BreakoutNoFrameskip-v4); default: all 26
  --seeds SEEDS       seeds as N, N-M or a comma list (0,2,7); default: {DEFAULT_SEEDS}
  --launcher NAME     basic: one run after the other (default); joblib: runs side by side on this machine
                      (pip install 'diamond-wm[sweep]'; hydra.launcher.n_jobs=N); submitit: each run a SLURM job
                      (pip install 'diamond-wm[slurm]'; hydra.launcher.partition=... hydra.launcher.gpus_per_node=1)
  --sweep-dir DIR     the sweep folder; default: {DEFAULT_SWEEP_DIR}
  --dry-run           list the runs (new, to resume, finished) and exit
  --no-progress       no progress bars (on a terminal), no line per phase (in a log file or pipe)
  KEY=VALUE           overrides of every run (keys of `diamond train`) and of the launcher (hydra.launcher.*)
"""


def parse_seeds(spec: str) -> list[int]:
    """`0-4` -> [0, 1, 2, 3, 4]; `0,2,7`; `3`. A ValueError naming the bad part otherwise."""
    seeds: list[int] = []
    for part in spec.split(","):
        lo, sep, hi = part.strip().partition("-")
        try:
            first, last = int(lo), int(hi) if sep else int(lo)
        except ValueError:
            first, last = 0, -1
        if not lo or first < 0 or last < first:
            raise ValueError(
                f"--seeds {spec}: {part!r} is not a seed or a range; expected N, N-M (N <= M) or a comma list "
                "of them, e.g. 0-4 or 0,2,7"
            )
        seeds += [s for s in range(first, last + 1) if s not in seeds]
    return seeds


def parse_games(spec: str) -> list[str]:
    """Gymnasium ids of `all` or of a comma list of game names or ids; a ValueError naming an unknown one."""
    from diamond_wm.config.atari_100k import ATARI_100K_GAMES, ATARI_100K_IDS, game_of

    if spec.strip() == "all":
        return [ATARI_100K_IDS[g] for g in ATARI_100K_GAMES]
    ids: list[str] = []
    for name in (n.strip() for n in spec.split(",")):
        game = name if name in ATARI_100K_IDS else game_of(name)
        if game is None:
            raise ValueError(
                f"--games: {name!r} is not an Atari 100k game; expected all, or names or Gymnasium ids of: "
                f"{', '.join(ATARI_100K_GAMES)} (e.g. Breakout or BreakoutNoFrameskip-v4)"
            )
        if ATARI_100K_IDS[game] not in ids:
            ids.append(ATARI_100K_IDS[game])
    return ids


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="diamond benchmark", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("suite", nargs="?")
    parser.add_argument("--games", default="all")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS)
    parser.add_argument("--launcher", default="basic")
    parser.add_argument("--sweep-dir", type=Path, default=DEFAULT_SWEEP_DIR)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--no-progress", action="store_true")
    return parser


def sweep_overrides(args: argparse.Namespace, extra: Sequence[str]) -> list[str]:
    """The overrides of the sweep: games x seeds, the launcher, then the user's."""
    if args.suite not in SUITES:
        raise ValueError(
            f"{'no benchmark given' if args.suite is None else f'unknown benchmark {args.suite!r}'}: "
            f"expected one of {', '.join(SUITES)}"
        )
    if args.launcher not in LAUNCHERS:
        raise ValueError(f"--launcher {args.launcher}: expected one of {', '.join(LAUNCHERS)}")
    for o in extra:
        key = o.split("=", 1)[0].lstrip("+~")
        if o.startswith("-") or "=" not in o:
            raise ValueError(f"unknown argument {o!r}: see `diamond benchmark --help`")
        taken = {
            "env.train.id": "--games",
            "common.seed": "--seeds",
            "hydra/launcher": "--launcher",
            "hydra.sweep.dir": "--sweep-dir",
        }
        if key in taken:
            raise ValueError(f"{o}: give it with {taken[key]}")
    games, seeds = parse_games(args.games), parse_seeds(args.seeds)
    out = [f"env.train.id={','.join(games)}", f"common.seed={','.join(map(str, seeds))}"]
    if LAUNCHERS[args.launcher] is not None:
        out.append(f"hydra/launcher={LAUNCHERS[args.launcher]}")
    return out + list(extra)


def run_benchmark_command(argv: Sequence[str]) -> int:
    """Entry of `diamond benchmark`. Returns the process exit code."""
    args, extra = _parser().parse_known_args(list(argv))
    if args.help:
        print(HELP, end="")
        return 0
    from diamond_wm.cli.sweep import run_sweep

    try:
        overrides = sweep_overrides(args, extra)
        return run_sweep(
            ["-m"],
            overrides,
            show_progress=not args.no_progress,
            dry_run=args.dry_run,
            command="benchmark",
            sweep_dir=args.sweep_dir,
            name_keys=NAME_KEYS,
        )
    except ValueError as err:
        return errors.CommandErrors("diamond benchmark").caught(err)
