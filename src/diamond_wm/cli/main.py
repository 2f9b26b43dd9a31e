"""The `diamond` command: train | play | eval | bench."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import Optional

from diamond_wm import __version__
from diamond_wm.runtime.logs import setup_logging
from diamond_wm.runtime.threads import use_passive_openmp_wait

log = logging.getLogger("diamond_wm.cli")

NOT_LANDED_EXIT = 2

SUBCOMMANDS = {
    "train": "train a DIAMOND agent (Hydra overrides, e.g. env.train.id=PongNoFrameskip-v4)",
    "play": "play, or watch the policy, inside the world model or the real game (pygame window)",
    "eval": "evaluate a checkpoint or run folder headless: test episodes in the real environment, JSON report",
    "bench": "time the paper's workloads (training steps, imagination, play) on this machine",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="diamond",
        description="DIAMOND: reinforcement learning inside a diffusion world model (Alonso et al., NeurIPS 2024).",
    )
    parser.add_argument("--version", action="version", version=f"diamond-wm {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (DEBUG)")
    parser.add_argument("-q", "--quiet", action="store_true", help="warnings and errors only")
    sub = parser.add_subparsers(dest="command", metavar="{train,play,eval,bench}")
    sub.required = True
    # `train` forwards everything after it to its own parser and to Hydra (overrides, --cfg, -m ...).
    sub.add_parser("train", help=SUBCOMMANDS["train"], add_help=False)
    from diamond_wm.cli.eval import add_arguments as add_eval_arguments
    from diamond_wm.cli.play import add_arguments as add_play_arguments

    add_play_arguments(sub.add_parser("play", help=SUBCOMMANDS["play"]))
    add_eval_arguments(sub.add_parser("eval", help=SUBCOMMANDS["eval"]))
    from diamond_wm.bench.cli import add_arguments as add_bench_arguments

    add_bench_arguments(
        sub.add_parser("bench", help=SUBCOMMANDS["bench"], description=SUBCOMMANDS["bench"] + ".")
    )
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    use_passive_openmp_wait()  # before torch loads OpenMP: see diamond_wm.runtime.threads
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    # Split at the subcommand so that `train` receives its arguments untouched (Hydra syntax is not argparse's).
    idx = next((i for i, a in enumerate(argv) if a in SUBCOMMANDS), None)
    head, rest = (argv, []) if idx is None else (argv[: idx + 1], argv[idx + 1 :])
    if idx is not None and head[-1] != "train":
        head, rest = argv, []
    args = parser.parse_args(head)
    setup_logging(args.verbose, args.quiet)
    if args.command == "train":
        from diamond_wm.cli.train import run_train_command

        return run_train_command(rest)
    if args.command == "bench":
        from diamond_wm.bench.cli import run as run_bench_command

        return run_bench_command(args)
    if args.command == "play":
        from diamond_wm.cli.play import run as run_play_command

        return run_play_command(args)
    if args.command == "eval":
        from diamond_wm.cli.eval import run as run_eval_command

        return run_eval_command(args)
    return not_landed(args.command)


def not_landed(command: str) -> int:
    """One line on stderr and exit code 2 for a subcommand whose feature is not in this version."""
    print(f"diamond {command}: not available yet in diamond-wm {__version__}", file=sys.stderr)
    return NOT_LANDED_EXIT


if __name__ == "__main__":
    sys.exit(main())
