"""The models `diamond serve` plays, found as `diamond play` finds them (`play_sources`) and loaded once; each
player's session is built from the one loaded model (`serve.session_host.SessionHost`)."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from diamond_wm.cli.agent_args import agent_request
from diamond_wm.cli.play_sources import (
    CSGO_PRESET,
    DEFAULT_HORIZON,
    is_csgo,
    load_agent,
    with_denoising_steps,
)

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Sources:
    """`make(seed)`: a new play session of the loaded model; `action_spec`: its actions (recorded with the
    episodes); `what`: the model, for the start message; `agent`, `compile`: `torch.compile` it (--fast)."""

    make: Callable[[int], Any]
    action_spec: Any
    what: str
    agent: Any
    compile: bool = False


def session_host(args: argparse.Namespace) -> tuple[Any, str]:
    """(host, what it serves) for the model `args` names (see `diamond serve --help`). A first session is made and
    stepped now, so that a model that does not load or step fails before the URL is printed; it is the first
    player's. The model is loaded, compiled and warmed up on the thread that will tick it
    (`session_host.TorchThread`)."""
    from diamond_wm.serve.session_host import TorchThread

    executor = TorchThread()
    try:
        return executor.submit(_prepare_host, args, executor).result()
    except BaseException:
        executor.shutdown(wait=False)
        raise


def _prepare_host(args: argparse.Namespace, executor: Any) -> tuple[Any, str]:
    from diamond_wm.serve.server import set_torch_threads
    from diamond_wm.serve.session_host import SessionHost

    sources = load_sources(args)
    first = sources.make(args.seed + 1 if args.seed is not None else 0)  # the first player's seed (SEED + 1)
    buckets: tuple[int, ...] = ()
    first.update()  # the model steps (before the URL is printed), and its frame size is known
    threads = tick_threads(args, first)
    set_torch_threads(threads)  # compiled below for the tick's thread count: its first tick compiles nothing
    if sources.compile:
        from diamond_wm.interactive.batch import batch_buckets, warm_up_session
        from diamond_wm.interactive.launch import compile_for_play

        # Compiled for a few batch sizes, each compiled now: no player waits on a compile.
        buckets = batch_buckets(args.max_players)
        print(
            f"Compiling the world model for batches of {', '.join(map(str, buckets))} players "
            "(torch.compile, about a minute each on CPU)...",
            flush=True,
        )
        compile_for_play(first, sources.agent)
        warm_up_session(first, buckets)
    host = SessionHost(sources.make, sources.action_spec, first, buckets, threads, executor)
    return host, sources.what


LARGE_FRAME_PIXELS = 64 * 64


def tick_threads(args: argparse.Namespace, session: Any) -> Optional[int]:
    """`--threads`, else on CPU: every core for frames of 64 x 64 pixels or more, one core fewer (at least 1) for
    smaller ones; None on an accelerator. The networks of large frames split their arithmetic well over cores
    (the paper's Atari networks: 19 frames per second for one player on 2 cores against 14 on one); those of small
    frames run parallel regions too short to split, and gain more from a core left to the event loop, the
    encoding and the network (Catch: 46 frames per second for each of 8 players on 1 thread, 32 on 2; measured in
    docs/serve.md). `session` has stepped (its frame tells the size)."""
    if args.threads is not None:
        return args.threads
    if session.device.type != "cpu":
        return None
    import os

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    pixels = session.frame.shape[-1] * session.frame.shape[-2]
    return cores if pixels >= LARGE_FRAME_PIXELS else max(1, cores - 1)


def load_sources(args: argparse.Namespace) -> Sources:
    """Load the model `args` names (see `diamond serve --help`); LoadError / ValueError naming what is wrong."""
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.runtime.devices import resolve_devices
    from diamond_wm.runtime.precision import default_precision

    device = resolve_devices(args.device)[0]
    precision = args.precision or (default_precision(device) if args.fast else "fp32")
    base = Path(args.run_dir)
    if base.is_file():  # `diamond serve agent.pt`
        if args.checkpoint is not None:
            raise LoadError(f"give a checkpoint either as RUN_DIR ({base}) or with --checkpoint, not both")
        args.checkpoint, base = base, Path(".")
    for name in ("horizon", "denoising_steps"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ValueError(f"--{name.replace('_', '-')} {value}: expected an integer >= 1")
    if args.mouse_multiplier is not None and not args.mouse_multiplier > 0:
        raise ValueError(f"--mouse-multiplier {args.mouse_multiplier}: expected a number > 0")
    common = {"precision": precision, "horizon": args.horizon, "compile_": bool(args.fast)}
    if is_csgo(args):
        from diamond_wm.loading.csgo import NotCSGOError

        try:
            return _csgo(args, device, base, **common)
        except NotCSGOError:  # a world model of other actions, without upsampler: from its spawn points
            return _spawn(args, device, base, **common)
    return _agent(args, device, base, **common)


def _csgo(args, device, base: Path, compile_: bool, precision: str, horizon: Optional[int]) -> Sources:
    from diamond_wm.interactive.csgo_controls import DEFAULT_MOUSE_MULTIPLIER
    from diamond_wm.interactive.launch import build_csgo_play_session
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.loading.csgo import CSGO_HORIZON, load_csgo, load_pretrained_csgo

    preset = args.preset or CSGO_PRESET
    if args.env_id is not None:
        raise LoadError(
            f"--env-id {args.env_id}: the CS:GO world model plays from its spawn points, not a game"
        )
    if args.pretrained is not None:
        if args.spawn is not None:
            raise LoadError(f"--spawn {args.spawn} goes with --checkpoint FILE, not --pretrained csgo")
        loaded = load_pretrained_csgo(device, preset)
    elif args.checkpoint is None:
        raise LoadError(f"--spawn {args.spawn} needs the world model that starts from it: --checkpoint FILE")
    else:
        loaded = load_csgo(args.checkpoint, args.spawn, device, agent_request(args), preset)
    if args.denoising_steps is not None:
        wm = loaded.world_model_env
        wm.diffusion_sampler_next_obs = dataclasses.replace(
            wm.diffusion_sampler_next_obs, num_steps_denoising=args.denoising_steps
        )

    def make(seed: int) -> Any:
        return build_csgo_play_session(
            loaded,
            base,
            horizon=horizon or CSGO_HORIZON,
            mouse_multiplier=args.mouse_multiplier or DEFAULT_MOUSE_MULTIPLIER,
            seed=seed,
            precision=precision,
        )

    what = f"the CS:GO world model ({loaded.name}, {loaded.preset})"
    return Sources(make, loaded.agent.action_spec, what, loaded.agent, compile_)


def _spawn(args, device, base: Path, compile_: bool, precision: str, horizon: Optional[int]) -> Sources:
    from diamond_wm.interactive.recorded_launch import build_spawn_play_session
    from diamond_wm.loading.agent import load_checkpoint

    loaded = load_checkpoint(
        args.checkpoint, device=device, agent_request=agent_request(args), require_env=False
    )
    with_denoising_steps(loaded, args.denoising_steps)

    def make(seed: int) -> Any:
        return build_spawn_play_session(
            loaded, args.spawn, base, horizon=horizon or DEFAULT_HORIZON, seed=seed, precision=precision
        )

    what = f"a world model ({loaded.name}, spawn points {args.spawn})"
    return Sources(make, loaded.agent.action_spec, what, loaded.agent, compile_)


def _agent(args, device, base: Path, compile_: bool, precision: str, horizon: Optional[int]) -> Sources:
    from diamond_wm.interactive.launch import build_play_session, game_name

    loaded, base_out = load_agent(args, device, base, args.pretrained)

    def make(seed: int) -> Any:
        return build_play_session(
            loaded,
            base_out,
            num_steps_initial_collect=args.num_steps_initial_collect,
            horizon=horizon or DEFAULT_HORIZON,
            seed=seed,
            precision=precision,
        )

    what = f"{game_name(loaded)} ({loaded.name})"
    return Sources(make, loaded.agent.action_spec, what, loaded.agent, compile_)
