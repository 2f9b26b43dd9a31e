"""`diamond eval`: test episodes of a checkpoint or run folder in the real environment (headless), JSON report."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from diamond_wm.cli import errors
from diamond_wm.cli.agent_args import add_agent_arguments, agent_request

log = logging.getLogger(__name__)


DESCRIPTION = """Evaluate an agent headless: N test episodes in the real environment, JSON report on stdout
(per-episode returns and lengths, mean and standard deviation), optionally a video of a real rollout next to the
world model's imagined rollout from the same start (--video FILE.mp4|FILE.gif).

For a run folder, the defaults are the run's own final evaluation: as many episodes, the same seed and, for its
last agent, the same action draws (the JSON says "reproduces_run_final": true).

`--pretrained GAME` evaluates a published Atari 100k model (downloaded from the Hugging Face Hub, cached) in its
game, e.g. `diamond eval --pretrained Breakout -n 100` to check it against the paper's table.

`diamond eval drift MODEL [MODEL ...] --dataset DIR` compares world models' imagined trajectories with real ones
(see `diamond eval drift --help`); a checkpoint or run folder named `drift` is evaluated by `diamond eval ./drift`.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument(
        "target",
        metavar="CHECKPOINT_OR_RUN_DIR",
        nargs="?",
        help="an agent checkpoint file or a run folder (ours or the published code's)",
    )
    parser.add_argument(
        "--pretrained",
        metavar="GAME",
        default=None,
        help="a published Atari 100k model from the Hugging Face Hub (eloialonso/diamond) instead",
    )
    parser.add_argument(
        "-n",
        "--episodes",
        type=int,
        default=None,
        help="test episodes (run folder: its final count; else 10)",
    )
    parser.add_argument("--epsilon", type=float, default=None, help="random-action probability (default 0)")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the episodes (run folder: its final seed)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps, auto")
    parser.add_argument("--env-id", default=None, help="env id for a checkpoint outside a run folder")
    parser.add_argument("--json", type=Path, default=None, help="also write the report to this file")
    parser.add_argument("--no-stdout", action="store_true", help="do not print the JSON report on stdout")
    parser.add_argument(
        "--video", type=Path, default=None, help="write a real vs imagined video (.mp4 or .gif)"
    )
    parser.add_argument(
        "--video-steps", type=int, default=200, help="maximum steps of the video (default 200)"
    )
    parser.add_argument("--fps", type=int, default=15, help="frame rate of the video (default 15)")
    add_agent_arguments(parser)


_errors = errors.CommandErrors("diamond eval: error")


def run(args: argparse.Namespace) -> int:
    from diamond_wm.evaluation.evaluate import evaluate, plan_evaluation
    from diamond_wm.loading.agent import (
        LoadError,
        is_run_dir,
        load_checkpoint,
        load_pretrained,
        load_run,
    )
    from diamond_wm.runtime.devices import resolve_devices

    if (args.target is None) == (args.pretrained is None):
        return _errors.fail("give a checkpoint or run folder, or --pretrained GAME (one of the two)")
    if args.episodes is not None and args.episodes < 1:
        return _errors.fail(f"--episodes must be >= 1, got {args.episodes}")
    if args.epsilon is not None and not 0.0 <= args.epsilon <= 1.0:
        return _errors.fail(f"--epsilon must be in [0, 1], got {args.epsilon}")
    if args.video is not None and args.video.suffix.lower() not in (".mp4", ".gif"):
        return _errors.fail(f"--video must end in .mp4 or .gif, got {args.video.name!r}")
    if args.video is not None:
        from diamond_wm.evaluation.video import VideoError, check_video_path

        try:  # before the episodes, which take a while
            check_video_path(args.video)
        except VideoError as e:
            return _errors.fail(str(e))
    target = Path(args.target) if args.target is not None else None
    try:
        device = resolve_devices(args.device, key="--device")[0]
        request = agent_request(args)
        if target is None:
            loaded = load_pretrained(args.pretrained, device=device)
        elif target.is_dir():
            if not is_run_dir(target):
                return _errors.fail(
                    f"no agent checkpoint: {target.resolve()} is not a training run folder (no config/trainer.yaml, "
                    "no checkpoints/); give a run folder or an agent checkpoint file"
                )
            loaded = load_run(target, device=device, agent_request=request)
        else:
            loaded = load_checkpoint(target, env_id=args.env_id, device=device, agent_request=request)
        plan = plan_evaluation(loaded, args.episodes, args.epsilon, args.seed)
        report = evaluate(loaded, plan)
        result = report.to_dict()
        if args.video is not None:
            from diamond_wm.evaluation.video import comparison_video

            written = comparison_video(
                loaded, args.video, seed=plan.seed, max_steps=args.video_steps, fps=args.fps
            )
            result["video"] = str(written)
    except (LoadError, ValueError) as e:  # ConfigError, CheckpointError... are ValueErrors
        return _errors.caught(e)
    text = json.dumps(result, indent=2)
    if not args.no_stdout:
        print(text, flush=True)  # first: a report that cannot be written to --json is not lost
    if args.json is not None:
        from diamond_wm.runtime.atomic import atomic_write_text  # the file names itself if the disk is full

        atomic_write_text(args.json, text + "\n")
    return 0
