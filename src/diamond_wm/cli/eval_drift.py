"""`diamond eval drift`: how far world models' imagined trajectories drift from the real ones, per imagination step
and number of denoising steps (JSON report, plot, side-by-side video).

The word `drift` right after `eval` always names this command: to evaluate a checkpoint or run folder that is
literally called `drift` with `diamond eval`, write it as a path, `diamond eval ./drift`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from diamond_wm.cli import errors
from diamond_wm.cli.agent_args import add_agent_arguments, agent_request

PROG = "diamond eval drift"

DESCRIPTION = """Drift of imagined trajectories (the paper's section 5.1): from real contexts of a test dataset,
each world model imagines HORIZON frames autoregressively (its own frames fed back) driven by the recorded actions,
with each number of denoising steps; the imagined frames are compared with the real ones at every imagination step
(mean squared error and PSNR, mean and std over the contexts), beside the baseline of copying the last real
context frame. --per-episode contexts (default 1) per test episode long enough for the model's conditioning
frames + HORIZON (a shorter horizon when no episode is that long, said in the report).

Writes OUT/drift.json, OUT/drift.png (error against imagination step, one line per model x steps),
OUT/drift.mp4 (the first context: real | each model at each number of steps) and OUT/drift_frames.png (the first
context's frames at imagination steps 1, 5, 10, 25, 50), and prints a summary table.
Models: run folders (their latest agent) or agent checkpoint files, EDM or DDPM (agent=ddpm). Without --dataset,
the test episodes are those of the static dataset the models' runs trained on.

A checkpoint or run folder named `drift` is evaluated by `diamond eval ./drift`."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("models", nargs="+", metavar="RUN_OR_CHECKPOINT", help="world models to compare")
    parser.add_argument(
        "--dataset",
        type=Path,
        default=None,
        help="test dataset folder (or a static dataset's root: its test/); default: the static dataset the "
        "models' runs trained on (static_dataset.path: its test/, else its train/)",
    )
    parser.add_argument(
        "--steps",
        default="1,3,10",
        help="numbers of denoising steps, e.g. 1,3,10 (default); the other sampler settings are the run's "
        "world_model_env.diffusion_sampler",
    )
    parser.add_argument("--horizon", type=int, default=50, help="imagined frames per context (default 50)")
    parser.add_argument("-n", "--episodes", type=int, default=None, help="test episodes used (default: all)")
    parser.add_argument(
        "--per-episode", type=int, default=1, help="contexts per test episode, at distinct starts (default 1)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("outputs/drift"), help="output folder (outputs/drift)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the context starts and the noise (0)")
    parser.add_argument("--batch-size", type=int, default=32, help="contexts imagined at once (default 32)")
    parser.add_argument(
        "--labels", default=None, help="comma-separated names of the models (default: folder names)"
    )
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, cuda:N, mps, auto")
    parser.add_argument("--fps", type=int, default=4, help="frame rate of the video (default 4)")
    parser.add_argument("--no-video", action="store_true", help="do not write the video")
    add_agent_arguments(parser)
    return parser


_errors = errors.CommandErrors(f"{PROG}: error")


def run(argv: list[str]) -> int:
    """Parse `diamond eval drift ARGV` and run it; 0, or 2 with one line on stderr for what the user can fix."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as e:
        if e.code and Path("drift").exists():
            print(f"{PROG}: note: to evaluate ./drift itself, write `diamond eval ./drift`", file=sys.stderr)
        raise
    from diamond_wm.evaluation.drift import DriftError, parse_steps
    from diamond_wm.loading.agent import LoadError

    try:
        return _run(args, parse_steps(args.steps))
    except (LoadError, DriftError, ValueError) as e:  # dataset and checkpoint errors are ValueErrors too
        return _errors.caught(e)


def _run(args: argparse.Namespace, steps: list[int]) -> int:
    from diamond_wm.evaluation.drift_outputs import drift_video, frames_grid, plot_drift, summary_table
    from diamond_wm.evaluation.drift_run import (
        DriftModel,
        load_world_model,
        model_labels,
        open_test_dataset,
        run_drift,
        static_test_dataset,
    )
    from diamond_wm.runtime.atomic import atomic_write_text
    from diamond_wm.runtime.devices import resolve_devices

    for name, value in (
        ("--batch-size", args.batch_size),
        ("--fps", args.fps),
        ("--per-episode", args.per_episode),
    ):
        if value < 1:
            return _errors.fail(f"{name} must be >= 1, got {value}")
    labels = [s.strip() for s in args.labels.split(",")] if args.labels is not None else None
    device = resolve_devices(args.device, key="--device")[0]
    # before the models: a bad folder is the quicker error
    dataset = open_test_dataset(args.dataset) if args.dataset is not None else None
    targets = [Path(m) for m in args.models]
    request = agent_request(args)
    loaded = [load_world_model(t, device, request) for t in targets]
    if dataset is None:
        dataset = static_test_dataset(targets, loaded)
    models = [
        DriftModel(label, t, la)
        for label, t, la in zip(model_labels(targets, loaded, labels), targets, loaded, strict=True)
    ]
    report, contexts, firsts = run_drift(
        models, dataset, steps, args.horizon, args.episodes, args.seed, args.batch_size, args.per_episode
    )
    out = args.out
    report["plot"] = str(plot_drift(report, out / "drift.png"))
    report["frames"] = str(frames_grid(report, contexts, firsts, out / "drift_frames.png"))
    if not args.no_video:
        report["video"] = str(drift_video(report, contexts, firsts, out / "drift.mp4", args.fps))
    report["report"] = str(out / "drift.json")
    atomic_write_text(out / "drift.json", json.dumps(report, indent=2) + "\n")
    print(summary_table(report), flush=True)
    if report["note"]:
        print(f"note: {report['note']}")
    print(
        f"report: {report['report']}\nplot: {report['plot']}"
        + (f"\nvideo: {report['video']}" if "video" in report else "")
    )
    return 0
