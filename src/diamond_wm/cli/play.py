"""`diamond play`: play (or watch the policy) in the world model or the real game; record; browse datasets."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from diamond_wm.cli import errors
from diamond_wm.cli.agent_args import add_agent_arguments
from diamond_wm.cli.play_sources import (
    CSGO_PRESET,
    CSGO_SIZE_MULTIPLIER,
    agent_session,
    csgo_session,
    is_csgo,
    spawn_session,
)

log = logging.getLogger(__name__)

DESCRIPTION = """Play, or watch the policy, inside the world model or the real game (pygame window).

Sources (one of):
  RUN_DIR                 a training run folder (default: the current directory), ours or the published code's:
                          its latest agent checkpoint; a checkpoint file here is the same as --checkpoint.
                          A run trained on a static dataset starts from that dataset (no real game)
  --pretrained [GAME]     a published Atari 100k model from the Hugging Face Hub (eloialonso/diamond)
  --pretrained csgo       the published CS:GO world model (keyboard and mouse) and its spawn points
  --checkpoint PATH       any agent checkpoint file, ours or published (with --env-id, or inside a run folder)
  --checkpoint PATH --spawn DIR   a world model with spawn points (diamond dataset spawn), e.g. csgo.pt with
                          csgo/spawn/

Modes: play (default), -r record (every finished episode into dataset/rec_<env>_<controller>),
-d dataset mode (browse every dataset under RUN_DIR/dataset). The controls are printed at start; see docs/play.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from diamond_wm.hub import ATARI_100K_GAMES
    from diamond_wm.interactive.csgo_controls import DEFAULT_MOUSE_MULTIPLIER
    from diamond_wm.loading.csgo import WORLD_MODEL_ENV_PRESETS

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument("run_dir", nargs="?", default=".", metavar="RUN_DIR", help="run folder (default: .)")
    parser.add_argument(
        "-p",
        "--pretrained",
        nargs="?",
        const="",
        default=None,
        metavar="GAME",
        help="published model: csgo (the CS:GO world model), or an Atari 100k game, one of: "
        + ", ".join(ATARI_100K_GAMES)
        + " (asked interactively when omitted)",
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="an agent checkpoint file")
    parser.add_argument("--env-id", default=None, help="env id for --checkpoint, e.g. BreakoutNoFrameskip-v4")
    parser.add_argument(
        "--spawn",
        type=Path,
        default=None,
        metavar="DIR",
        help="spawn points of a world model (--checkpoint): folders <n>/ of low_res, act, next_act (and for "
        "CS:GO full_res) .npy, as diamond dataset spawn writes them",
    )
    parser.add_argument(
        "--preset",
        choices=WORLD_MODEL_ENV_PRESETS,
        default=None,
        help=f"CS:GO samplers, the world_model_env preset: {' or '.join(WORLD_MODEL_ENV_PRESETS)} "
        f"(default {CSGO_PRESET})",
    )
    parser.add_argument(
        "-d", "--dataset-mode", action="store_true", help="browse the datasets under dataset/"
    )
    parser.add_argument("-r", "--record", action="store_true", help="record finished episodes into datasets")
    parser.add_argument(
        "-n",
        "--num-steps-initial-collect",
        type=int,
        default=1000,
        help="real steps collected for the world model's initial conditions (default 1000)",
    )
    parser.add_argument(
        "--horizon", type=int, default=None, help="imagination horizon (default 50; CS:GO 1000)"
    )
    parser.add_argument(
        "--denoising-steps",
        type=int,
        default=None,
        metavar="N",
        help="denoising steps per imagined frame (default: the run's world_model_env.diffusion_sampler, else 3; "
        "CS:GO: --preset's)",
    )
    parser.add_argument("--fps", type=int, default=15, help="frame rate (default 15)")
    parser.add_argument(
        "--size", type=int, default=640, help="size of the game frame in pixels (default 640)"
    )
    parser.add_argument(
        "--size-multiplier",
        type=int,
        default=None,
        help=f"CS:GO: the window shows frames at this multiple of their size (default {CSGO_SIZE_MULTIPLIER})",
    )
    parser.add_argument(
        "--mouse-multiplier",
        type=float,
        default=None,
        help=f"CS:GO: relative mouse motion is multiplied by this (default {DEFAULT_MOUSE_MULTIPLIER:g})",
    )
    parser.add_argument("--no-header", action="store_true", help="hide the header")
    parser.add_argument(
        "--store-denoising-trajectory", action="store_true", help="record the denoising steps"
    )
    parser.add_argument(
        "--store-original-obs", action="store_true", help="record full-resolution real frames"
    )
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps (default: best available)")
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16"),
        default=None,
        help="fp32 (default), or bf16 autocast of the networks (cpu and cuda): faster where bf16 is native; "
        "frames within the PSNR of docs/benchmarks.md",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the world model before the window opens (~1 min on CPU; needs a C++ compiler there)",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help="the fastest mode measured for this device (docs/benchmarks.md): bf16 where the device computes it "
        "natively (else fp32; --precision overrides) and --compile",
    )
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the policy, world model and collection"
    )
    parser.add_argument(
        "--max-frames",
        type=int,
        default=None,
        metavar="N",
        help="quit after drawing N frames (with --screenshot and SDL_VIDEODRIVER=dummy: a check without a display)",
    )
    parser.add_argument("--screenshot", type=Path, default=None, help="save the window to this PNG on exit")
    add_agent_arguments(parser)


_errors = errors.CommandErrors("diamond play: error")


def _choose_mode(args: argparse.Namespace, device) -> None:
    """Resolve `--fast` and the default precision: fp32 unless `--fast` picks bf16 where the device computes it
    natively (`runtime.precision.default_precision`); an explicit --precision always wins."""
    from diamond_wm.runtime.precision import default_precision

    if args.fast:
        args.compile = True
        if args.precision is None:
            args.precision = default_precision(device)
        log.info("--fast: %s, torch.compile with freezing", args.precision)
    if args.precision is None:
        args.precision = "fp32"


def _device(spec):
    from diamond_wm.runtime.devices import resolve_devices

    return resolve_devices(spec if spec is not None else None)[0]


def _dataset_action_names(base: Path) -> list[str] | None:
    """Action names of the run's game (for the header), when base is a run folder: those it recorded, else, for a
    run that played a real game, that game's (a run trained on a static dataset never did)."""
    from diamond_wm.config.actions import read_action_spec
    from diamond_wm.loading.agent import is_run_dir, read_run_config
    from diamond_wm.loading.static_run import static_path

    if not (base / "config" / "trainer.yaml").is_file() or not is_run_dir(base):  # ours or a published run
        return None
    try:
        from diamond_wm.envs import make_env

        spec = read_action_spec(base / "config" / "action_spec.json")
        if spec is not None and spec.is_discrete and spec.names:
            return list(spec.names)
        cfg = read_run_config(base)
        if static_path(cfg) is not None:
            return None
        env = make_env(cfg.env.test, cfg.env.type, 1, "cpu", asynchronous=False)
        names = list(env.action_names)
        env.close()
        return names
    except Exception:
        return None


def _dataset_window_size(app, width: int) -> int | tuple[int, int]:
    """The frame area of dataset mode: `width` wide, as high as the first frame's aspect ratio makes it."""
    frame = app.frame
    if frame is None or frame.shape[-1] == frame.shape[-2]:
        return width
    h, w = frame.shape[-2:]
    return (width, max(16, round(width * h / w)))


def run(args: argparse.Namespace) -> int:
    """Run `diamond play` with parsed arguments; exit code 2 for problems the user can fix."""
    import os

    from diamond_wm.interactive.browse_launch import build_dataset_browser
    from diamond_wm.interactive.launch import compile_for_play
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.play.window import PlayWindow, controls_help

    base = Path(args.run_dir)
    if base.is_file() and not args.dataset_mode:  # `diamond play agent.pt`: a checkpoint file
        if args.checkpoint is not None:
            return _errors.fail(
                f"give a checkpoint either as RUN_DIR ({base}) or with --checkpoint, not both"
            )
        args.checkpoint, base = base, Path(".")
    if args.size < 16 or args.fps < 1 or (args.horizon is not None and args.horizon < 1):
        return _errors.fail("--size must be >= 16, --fps and --horizon >= 1")
    bad_multiplier = (args.size_multiplier is not None and args.size_multiplier < 1) or (
        args.mouse_multiplier is not None and not args.mouse_multiplier > 0
    )
    if args.num_steps_initial_collect < 1 or bad_multiplier:
        return _errors.fail("-n and --size-multiplier must be >= 1, --mouse-multiplier > 0")
    if args.denoising_steps is not None and args.denoising_steps < 1:
        return _errors.fail(f"--denoising-steps {args.denoising_steps}: expected an integer >= 1")
    base_out, size = base, args.size
    try:
        if args.dataset_mode:
            if args.pretrained is not None or args.record or args.checkpoint is not None:
                log.warning("dataset mode: ignoring --pretrained, --checkpoint and --record")
            app = build_dataset_browser(base, _dataset_action_names(base))
            title = f"diamond play: datasets in {base.resolve() / 'dataset'}"
            size = _dataset_window_size(app, args.size)
        else:
            device = _device(args.device)
            _choose_mode(args, device)
            if args.seed is not None:
                import torch

                torch.manual_seed(args.seed)
            if is_csgo(args):
                from diamond_wm.loading.csgo import NotCSGOError

                try:
                    app, agent, title, size = csgo_session(args, device, base)
                except NotCSGOError:  # a world model of other actions, without upsampler
                    app, agent, title, base_out = spawn_session(args, device, base)
            else:
                app, agent, title, base_out = agent_session(args, device, base)
            if args.compile:
                print("Compiling the world model (torch.compile, about a minute on CPU)...", flush=True)
                try:
                    compile_for_play(app, agent)
                except Exception as e:  # Inductor: no C++ compiler, unsupported op...
                    line = errors.one_line(e) or type(e).__name__
                    return _errors.caught(e, f"--compile failed ({line}); play without --compile")
    except (LoadError, ValueError) as e:  # ConfigError, CheckpointError... are ValueErrors
        return _errors.caught(e)

    print("\n".join(controls_help(app)))
    if getattr(args, "record", False) and not args.dataset_mode:
        print(
            f"\nRecording: finished episodes go to {Path(base_out).resolve() / 'dataset'}/rec_<env>_<controller>"
        )
    print()
    if os.environ.get("SDL_VIDEODRIVER") == "dummy":
        log.info("SDL_VIDEODRIVER=dummy: no window is shown")
    window = PlayWindow(app, size=size, fps=args.fps, show_header=not args.no_header, title=title)
    try:
        window.run(max_frames=args.max_frames, screenshot=args.screenshot)
    except KeyboardInterrupt:
        pass
    finally:
        for e in getattr(app, "envs", []):
            e.env.close()
    return 0
