"""`diamond play`: play (or watch the policy) in the world model or the real game; record; browse datasets."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from diamond_wm.cli import errors
from diamond_wm.cli.agent_args import add_agent_arguments, agent_request

log = logging.getLogger(__name__)

USAGE_ERROR = 2
DEFAULT_HORIZON = 50  # imagination horizon of Atari play (the CS:GO world model's is 1000)
CSGO_PRESET = "fast"  # the CS:GO world model's samplers by default
CSGO_SIZE_MULTIPLIER = 2  # its window shows frames twice as large by default

DESCRIPTION = """Play, or watch the policy, inside the world model or the real game (pygame window).

Sources (one of):
  RUN_DIR                 a training run folder (default: the current directory), ours or the published code's:
                          its latest agent checkpoint; a checkpoint file here is the same as --checkpoint
  --pretrained [GAME]     a published Atari 100k model from the Hugging Face Hub (eloialonso/diamond)
  --pretrained csgo       the published CS:GO world model (keyboard and mouse) and its spawn points
  --checkpoint PATH       any agent checkpoint file, ours or published (with --env-id, or inside a run folder)
  --checkpoint PATH --spawn DIR   a CS:GO world model (e.g. csgo.pt) with its spawn points (csgo/spawn/)

Modes: play (default), -r record (every finished episode into dataset/rec_<env>_<controller>),
-d dataset mode (browse every dataset under RUN_DIR/dataset). The controls are printed at start; see docs/play.md.
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from diamond_wm.evaluation.csgo_loading import WORLD_MODEL_ENV_PRESETS
    from diamond_wm.hub import ATARI_100K_GAMES
    from diamond_wm.play.csgo_controls import DEFAULT_MOUSE_MULTIPLIER

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
        help="spawn points of a CS:GO world model (--checkpoint): folders <n>/ of low_res, full_res, act, "
        "next_act .npy",
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


def _error(msg: str) -> int:
    print(f"diamond play: error: {msg}", file=sys.stderr)
    return USAGE_ERROR


def prompt_game() -> str:
    """Ask for a game number on the terminal (CLI only). Ctrl-C raises KeyboardInterrupt and Ctrl-D EOFError,
    which `diamond` reports in one line (exit 130 and 1)."""
    from diamond_wm.hub import ATARI_100K_GAMES

    for i, game in enumerate(ATARI_100K_GAMES):
        print(f"{i:2d}: {game}")
    while True:
        try:
            answer = input(f"\nEnter a number (0-{len(ATARI_100K_GAMES) - 1}): ").strip()
        except EOFError:
            print()  # the prompt's line stays unfinished otherwise
            raise EOFError("no game chosen (end of input)") from None
        except KeyboardInterrupt:
            print()
            raise KeyboardInterrupt("no game chosen") from None
        if answer.isdigit() and 0 <= int(answer) < len(ATARI_100K_GAMES):
            return ATARI_100K_GAMES[int(answer)]
        print("Invalid.")


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
    """Action names of the run's game (for the header), when base is a run folder."""
    from diamond_wm.evaluation.loading import is_run_dir, read_run_config

    if not (base / "config" / "trainer.yaml").is_file() or not is_run_dir(base):  # ours or a published run
        return None
    try:
        from diamond_wm.envs import make_env

        cfg = read_run_config(base)
        env = make_env(cfg.env.test, cfg.env.type, 1, "cpu", asynchronous=False)
        names = list(env.action_names)
        env.close()
        return names
    except Exception:
        return None


def _is_csgo(args: argparse.Namespace) -> bool:
    from diamond_wm.hub import CSGO

    return args.spawn is not None or (args.pretrained or "").strip().lower() == CSGO


def _csgo_session(args: argparse.Namespace, device, base: Path):
    """(session, agent, window title, window frame size) of the CS:GO world model (`--spawn`, `--pretrained
    csgo`); LoadError for options that do not go with it."""
    from diamond_wm.evaluation.csgo_loading import CSGO_HORIZON, load_csgo, load_pretrained_csgo
    from diamond_wm.evaluation.loading import LoadError
    from diamond_wm.play.csgo_controls import DEFAULT_MOUSE_MULTIPLIER
    from diamond_wm.play.launch import build_csgo_play_session

    if args.env_id is not None:
        raise LoadError(
            f"--env-id {args.env_id} names the game of an agent, but the CS:GO world model plays from its spawn "
            "points (--spawn DIR, --pretrained csgo): give one or the other"
        )
    if args.pretrained is not None:
        if args.spawn is not None:
            raise LoadError(
                f"--spawn {args.spawn} goes with --checkpoint FILE: --pretrained csgo comes with its spawn points"
            )
        loaded = load_pretrained_csgo(device, args.preset or CSGO_PRESET)
    elif args.checkpoint is None:
        raise LoadError(
            f"--spawn {args.spawn} needs the CS:GO world model that starts from it: --checkpoint FILE "
            "(e.g. csgo.pt), or play --pretrained csgo"
        )
    else:
        preset = args.preset or CSGO_PRESET
        loaded = load_csgo(args.checkpoint, args.spawn, device, agent_request(args), preset)
    session = build_csgo_play_session(
        loaded,
        base,
        horizon=args.horizon or CSGO_HORIZON,
        record=args.record,
        store_denoising_trajectory=args.store_denoising_trajectory,
        store_original_obs=args.store_original_obs,
        mouse_multiplier=args.mouse_multiplier or DEFAULT_MOUSE_MULTIPLIER,
        seed=args.seed,
        precision=args.precision,
    )
    _, h, w = session.frame_shape
    multiplier = args.size_multiplier or CSGO_SIZE_MULTIPLIER
    size = (w * multiplier, h * multiplier)
    return session, loaded.agent, f"diamond play: CS:GO world model ({loaded.name}, {loaded.preset})", size


def _agent_session(args: argparse.Namespace, device, base: Path):
    """(session, agent, window title, base folder) of an agent in its game (run folder, checkpoint, Atari model)."""
    from diamond_wm.evaluation.loading import load_checkpoint, load_pretrained, load_run
    from diamond_wm.play.launch import build_play_session

    csgo_only = ("preset", "size_multiplier", "mouse_multiplier")
    ignored = ["--" + k.replace("_", "-") for k in csgo_only if getattr(args, k) is not None]
    if ignored:
        log.warning("%s: options of the CS:GO world model, ignored here", ", ".join(ignored))

    if args.pretrained is not None:
        game = args.pretrained
        if not game:
            if not sys.stdin.isatty():
                from diamond_wm.hub import ATARI_100K_GAMES

                raise ValueError(
                    "--pretrained needs a game, one of: "
                    + ", ".join(ATARI_100K_GAMES)
                    + ", or csgo (the CS:GO world model)"
                )
            game = prompt_game()
        loaded = load_pretrained(game, device=device)
        base = Path(".") if args.run_dir == "." else base
    elif args.checkpoint is not None:
        loaded = load_checkpoint(
            args.checkpoint, env_id=args.env_id, device=device, agent_request=agent_request(args)
        )
    else:
        loaded = load_run(base, device=device, agent_request=agent_request(args))
    base_out = loaded.run_dir if loaded.run_dir is not None and args.checkpoint is None else base
    session = build_play_session(
        loaded,
        base_out,
        num_steps_initial_collect=args.num_steps_initial_collect,
        horizon=args.horizon or DEFAULT_HORIZON,
        record=args.record,
        store_denoising_trajectory=args.store_denoising_trajectory,
        store_original_obs=args.store_original_obs,
        seed=args.seed,
        precision=args.precision,
    )
    return session, loaded.agent, f"diamond play: {loaded.env.test.id} ({loaded.name})", base_out


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

    from diamond_wm.evaluation.loading import LoadError
    from diamond_wm.play.launch import build_dataset_browser, compile_for_play
    from diamond_wm.play.window import PlayWindow

    base = Path(args.run_dir)
    if base.is_file() and not args.dataset_mode:  # `diamond play agent.pt`: a checkpoint file
        if args.checkpoint is not None:
            return _error(f"give a checkpoint either as RUN_DIR ({base}) or with --checkpoint, not both")
        args.checkpoint, base = base, Path(".")
    if args.size < 16 or args.fps < 1 or (args.horizon is not None and args.horizon < 1):
        return _error("--size must be >= 16, --fps and --horizon >= 1")
    bad_multiplier = (args.size_multiplier is not None and args.size_multiplier < 1) or (
        args.mouse_multiplier is not None and not args.mouse_multiplier > 0
    )
    if args.num_steps_initial_collect < 1 or bad_multiplier:
        return _error("-n and --size-multiplier must be >= 1, --mouse-multiplier > 0")
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
            if _is_csgo(args):
                app, agent, title, size = _csgo_session(args, device, base)
            else:
                app, agent, title, base_out = _agent_session(args, device, base)
            if args.compile:
                print("Compiling the world model (torch.compile, about a minute on CPU)...", flush=True)
                try:
                    compile_for_play(app, agent)
                except Exception as e:  # Inductor: no C++ compiler, unsupported op...
                    if errors.debug_enabled():
                        raise
                    line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                    return _error(f"--compile failed ({line}); play without --compile")
    except (LoadError, ValueError) as e:  # ConfigError, CheckpointError... are ValueErrors
        if errors.debug_enabled():
            raise
        return _error(str(e).splitlines()[0])

    print("\n".join(app.controls_help()))
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
