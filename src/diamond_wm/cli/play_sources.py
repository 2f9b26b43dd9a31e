"""The sources `diamond play` plays: a run folder or checkpoint of an agent in its game (or the recorded play of
its static dataset), the CS:GO world model with its spawn points, or another world model with spawn points."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Optional

from diamond_wm.cli.agent_args import agent_request

log = logging.getLogger(__name__)

DEFAULT_HORIZON = 50  # imagination horizon of Atari play (the CS:GO world model's is 1000)
CSGO_PRESET = "fast"  # the CS:GO world model's samplers by default
CSGO_SIZE_MULTIPLIER = 2  # its window shows frames twice as large by default


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


def is_csgo(args: argparse.Namespace) -> bool:
    from diamond_wm.hub import CSGO

    return args.spawn is not None or (args.pretrained or "").strip().lower() == CSGO


def csgo_session(args: argparse.Namespace, device, base: Path):
    """(session, agent, window title, window frame size) of the CS:GO world model (`--spawn`, `--pretrained
    csgo`); LoadError for options that do not go with it."""
    from diamond_wm.interactive.csgo_controls import DEFAULT_MOUSE_MULTIPLIER
    from diamond_wm.interactive.launch import build_csgo_play_session
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.loading.csgo import CSGO_HORIZON, load_csgo, load_pretrained_csgo

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
    if args.denoising_steps is not None:
        import dataclasses

        wm = loaded.world_model_env
        wm.diffusion_sampler_next_obs = dataclasses.replace(
            wm.diffusion_sampler_next_obs, num_steps_denoising=args.denoising_steps
        )
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


def spawn_session(args: argparse.Namespace, device, base: Path):
    """(session, agent, window title, base folder) of a world model other than CS:GO's (no upsampler) with
    spawn points (`--checkpoint CKPT --spawn DIR`)."""
    from diamond_wm.interactive.recorded_launch import build_spawn_play_session
    from diamond_wm.loading.agent import load_checkpoint

    loaded = load_checkpoint(
        args.checkpoint, device=device, agent_request=agent_request(args), require_env=False
    )
    with_denoising_steps(loaded, args.denoising_steps)
    session = build_spawn_play_session(
        loaded,
        args.spawn,
        base,
        horizon=args.horizon or DEFAULT_HORIZON,
        record=args.record,
        store_denoising_trajectory=args.store_denoising_trajectory,
        store_original_obs=args.store_original_obs,
        seed=args.seed,
        precision=args.precision,
    )
    return (
        session,
        loaded.agent,
        f"diamond play: world model ({loaded.name}, spawn points {args.spawn})",
        base,
    )


def with_denoising_steps(loaded, steps: int | None) -> None:
    """`--denoising-steps`: the sampler's number of steps replaced, its other settings kept."""
    if steps is not None:
        import dataclasses

        loaded.sampler = dataclasses.replace(loaded.sampler, num_steps_denoising=steps)
    log.info("world model sampler: %d denoising steps", loaded.sampler.num_steps_denoising)


def agent_session(args: argparse.Namespace, device, base: Path):
    """(session, agent, window title, base folder) of an agent in its game (run folder, checkpoint, Atari model)."""
    from diamond_wm.interactive.launch import build_play_session, game_name

    csgo_only = ("preset", "size_multiplier", "mouse_multiplier")
    ignored = ["--" + k.replace("_", "-") for k in csgo_only if getattr(args, k) is not None]
    if ignored:
        log.warning("%s: options of the CS:GO world model, ignored here", ", ".join(ignored))

    game = args.pretrained
    if game is not None:
        if not game:
            if not sys.stdin.isatty():
                from diamond_wm.hub import ATARI_100K_GAMES

                raise ValueError(
                    "--pretrained needs a game, one of: "
                    + ", ".join(ATARI_100K_GAMES)
                    + ", or csgo (the CS:GO world model)"
                )
            game = prompt_game()
        base = Path(".") if args.run_dir == "." else base
    loaded, base_out = load_agent(args, device, base, game)
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
    return session, loaded.agent, f"diamond play: {game_name(loaded)} ({loaded.name})", base_out


def load_agent(args: argparse.Namespace, device, base: Path, pretrained: Optional[str]) -> tuple[Any, Path]:
    """(the loaded agent, the folder its outputs go to) of the published model `pretrained`, of `--checkpoint`,
    or of the run folder `base`, with `--denoising-steps` applied: what `diamond play` and `diamond serve` load."""
    from diamond_wm.loading.agent import load_checkpoint, load_pretrained, load_run

    if pretrained is not None:
        loaded = load_pretrained(pretrained, device=device)
    elif args.checkpoint is not None:
        loaded = load_checkpoint(
            args.checkpoint, env_id=args.env_id, device=device, agent_request=agent_request(args)
        )
    else:
        loaded = load_run(base, device=device, agent_request=agent_request(args))
    base_out = loaded.run_dir if loaded.run_dir is not None and args.checkpoint is None else base
    with_denoising_steps(loaded, args.denoising_steps)
    return loaded, base_out
