"""The models `diamond serve` plays, as `diamond play` finds them (`play_sources`), loaded once: `Sources` makes
each player's session from the one loaded model."""

from __future__ import annotations

import argparse
import dataclasses
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from diamond_wm.cli.agent_args import agent_request
from diamond_wm.cli.play_sources import CSGO_PRESET, DEFAULT_HORIZON, is_csgo, with_denoising_steps

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Sources:
    """`make(seed)`: a new play session; `record(session, folder or None)`: its episodes recorded there (as
    `diamond play -r` does under a run folder); `warm_up(session)`: compile the model (--fast) on a first session;
    `what`: the model, for the start message."""

    make: Callable[[int], Any]
    action_spec: Any
    what: str
    agent: Any
    compile: bool = False

    def record(self, session: Any, folder: Optional[Path]) -> None:
        if folder is not None:
            from diamond_wm.play.recording import EpisodeRecorder

            session.recorder = EpisodeRecorder(folder, action_spec=self.action_spec)

    def warm_up(self, session: Any) -> None:
        if self.compile:
            from diamond_wm.play.launch import compile_for_play

            print("Compiling the world model (torch.compile, about a minute on CPU)...", flush=True)
            compile_for_play(session, self.agent)


def _mode(args: argparse.Namespace, device: Any) -> tuple[str, bool]:
    """(precision, compile) of --precision and --fast, as `diamond play` chooses them."""
    from diamond_wm.runtime.precision import default_precision

    precision = args.precision or (default_precision(device) if args.fast else "fp32")
    return precision, bool(args.fast)


def load_sources(args: argparse.Namespace) -> Sources:
    """Load the model `args` names (see `diamond serve --help`); LoadError / ValueError naming what is wrong."""
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.runtime.devices import resolve_devices

    device = resolve_devices(args.device)[0]
    precision, compile_ = _mode(args, device)
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
    common = {"precision": precision, "horizon": args.horizon}
    if is_csgo(args):
        from diamond_wm.loading.csgo import NotCSGOError

        try:
            return _csgo(args, device, base, compile_, **common)
        except NotCSGOError:  # a world model of other actions, without upsampler: from its spawn points
            return _spawn(args, device, base, compile_, **common)
    return _agent(args, device, base, compile_, **common)


def _csgo(args, device, base: Path, compile_: bool, precision: str, horizon: Optional[int]) -> Sources:
    from diamond_wm.loading.agent import LoadError
    from diamond_wm.loading.csgo import CSGO_HORIZON, load_csgo, load_pretrained_csgo
    from diamond_wm.play.csgo_controls import DEFAULT_MOUSE_MULTIPLIER
    from diamond_wm.play.launch import build_csgo_play_session

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
    from diamond_wm.loading.agent import load_checkpoint
    from diamond_wm.play.recorded_launch import build_spawn_play_session

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
    from diamond_wm.loading.agent import load_checkpoint, load_pretrained, load_run
    from diamond_wm.play.launch import build_play_session, game_name

    if args.pretrained is not None:
        loaded = load_pretrained(args.pretrained, device=device)
    elif args.checkpoint is not None:
        loaded = load_checkpoint(
            args.checkpoint, env_id=args.env_id, device=device, agent_request=agent_request(args)
        )
    else:
        loaded = load_run(base, device=device, agent_request=agent_request(args))
    base_out = loaded.run_dir if loaded.run_dir is not None and args.checkpoint is None else base
    with_denoising_steps(loaded, args.denoising_steps)

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
