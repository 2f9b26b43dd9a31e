"""The `diamond` command: train | benchmark | play | serve | eval | bench | results | dataset.

Errors the user can fix end every command the same way, in `main`: one line `diamond CMD: ...` on stderr and a
non-zero exit code (see `diamond_wm.cli.errors`); `--debug`, before or after the subcommand, shows the traceback.
Only the arguments of the command being run are imported, so `diamond train --help` answers at once.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Optional

from diamond_wm import __version__
from diamond_wm.cli import errors
from diamond_wm.runtime.logs import setup_logging

log = logging.getLogger("diamond_wm.cli")

NOT_LANDED_EXIT = 2
DEBUG_FLAG = "--debug"
_FORWARDING = ("train", "benchmark")  # commands that parse their own arguments (Hydra overrides)
DRIFT = "drift"  # `diamond eval drift`: always the command (a path named drift is given as ./drift)

SUBCOMMANDS = {
    "train": "train a DIAMOND agent (Hydra overrides, e.g. env.train.id=PongNoFrameskip-v4)",
    "benchmark": "train on the 26 Atari 100k games x seeds as one sweep of runs (`benchmark atari100k`)",
    "play": "play, or watch the policy, inside the world model or the real game (pygame window)",
    "serve": "play a world model in a web browser, several players at once",
    "eval": "evaluate a checkpoint or run folder headless: test episodes in the real environment, JSON report; "
    "`eval drift`: drift of imagined trajectories from real ones",
    "bench": "time the paper's workloads (training steps, imagination, play) on this machine",
    "results": "Atari 100k table and rliable aggregates (IQM, mean, median, optimality gap) of finished runs",
    "dataset": "make datasets from recorded play (CS:GO recordings, your own videos) and inspect them",
}


def _add_command_arguments(command: str, parser: argparse.ArgumentParser) -> None:
    if command == "play":
        from diamond_wm.cli.play import add_arguments
    elif command == "serve":
        from diamond_wm.cli.serve import add_arguments
    elif command == "eval":
        from diamond_wm.cli.eval import add_arguments
    elif command == "results":
        from diamond_wm.cli.results import add_arguments
    elif command == "dataset":
        from diamond_wm.cli.dataset import add_arguments
    else:
        from diamond_wm.bench.cli import add_arguments
    add_arguments(parser)


def build_parser(command: Optional[str] = None) -> argparse.ArgumentParser:
    """The parser of `diamond`; the arguments of `command` only (all of them when None)."""
    parser = argparse.ArgumentParser(
        prog="diamond",
        description="DIAMOND: reinforcement learning inside a diffusion world model (Alonso et al., NeurIPS 2024).",
    )
    parser.add_argument("--version", action="version", version=f"diamond-wm {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (DEBUG)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    parser.add_argument(
        DEBUG_FLAG,
        action="store_true",
        help="show the full traceback of an error (also accepted after the subcommand)",
    )
    sub = parser.add_subparsers(
        dest="command", metavar="{train,benchmark,play,serve,eval,bench,results,dataset}"
    )
    sub.required = True
    # `train` and `benchmark` forward everything after them to their own parser and to Hydra (overrides, -m ...).
    for name in _FORWARDING:
        sub.add_parser(name, help=SUBCOMMANDS[name], add_help=False)
    for name in ("play", "serve", "eval", "bench", "results", "dataset"):
        kwargs = {"description": SUBCOMMANDS[name] + "."} if name == "bench" else {}
        sub_parser = sub.add_parser(name, help=SUBCOMMANDS[name], **kwargs)
        if command is None or command == name:
            _add_command_arguments(name, sub_parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run `diamond ARGV`; returns the exit code (errors the user can fix: one line, see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = DEBUG_FLAG in argv
    argv = [a for a in argv if a != DEBUG_FLAG]
    errors.set_debug(debug)
    command = next((a for a in argv if a in SUBCOMMANDS), None)
    try:
        return _run(argv, command)
    except Exception as err:
        return errors.report(command or "", err)
    except KeyboardInterrupt as err:  # Ctrl-C outside the places that handle it (training saves its epoch)
        return errors.report(command or "", err)


def _run(argv: list[str], command: Optional[str]) -> int:
    parser = build_parser(command)
    # Split at the subcommand so that `train` receives its arguments untouched (Hydra syntax is not argparse's).
    idx = argv.index(command) if command is not None else None
    if command == "eval" and argv[idx + 1 : idx + 2] == [DRIFT]:  # `diamond eval drift ...`: its own parser
        args = parser.parse_args(argv[: idx + 1])
        setup_logging(args.verbose, args.quiet)
        from diamond_wm.cli.eval_drift import run as run_drift_command

        return run_drift_command(argv[idx + 2 :])
    head, rest = (argv, []) if idx is None else (argv[: idx + 1], argv[idx + 1 :])
    if idx is not None and head[-1] not in _FORWARDING:
        head, rest = argv, []
    args = parser.parse_args(head)
    setup_logging(args.verbose, args.quiet)
    if args.command == "train":
        from diamond_wm.cli.train import run_train_command

        return run_train_command(rest)
    if args.command == "benchmark":
        from diamond_wm.cli.benchmark import run_benchmark_command

        return run_benchmark_command(rest)
    if args.command == "bench":
        from diamond_wm.bench.cli import run as run_bench_command

        return run_bench_command(args)
    if args.command == "play":
        from diamond_wm.cli.play import run as run_play_command

        return run_play_command(args)
    if args.command == "serve":
        from diamond_wm.cli.serve import run as run_serve_command

        return run_serve_command(args)
    if args.command == "eval":
        from diamond_wm.cli.eval import run as run_eval_command

        return run_eval_command(args)
    if args.command == "results":
        from diamond_wm.cli.results import run as run_results_command

        return run_results_command(args)
    if args.command == "dataset":
        from diamond_wm.cli.dataset import run as run_dataset_command

        return run_dataset_command(args)
    return not_landed(args.command)


def not_landed(command: str) -> int:
    """One line on stderr and exit code 2 for a subcommand whose feature is not in this version."""
    return errors.CommandErrors(f"diamond {command}").fail(
        f"not available yet in diamond-wm {__version__}", code=NOT_LANDED_EXIT
    )


if __name__ == "__main__":
    sys.exit(main())
