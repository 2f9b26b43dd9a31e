"""`diamond serve`: play a world model in a web browser, several players at once (docs/serve.md)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from diamond_wm.cli.agent_args import add_agent_arguments

log = logging.getLogger(__name__)

DEFAULT_PORT = 8765

DESCRIPTION = """Play a world model in a web browser: start the server, open the URL it prints.

Sources (one of), as for `diamond play`:
  RUN_DIR                 a training run folder (default: the current directory), or an agent checkpoint file
  --pretrained GAME       a published Atari 100k model from the Hugging Face Hub; --pretrained csgo: the CS:GO
                          world model (keyboard and mouse) and its spawn points
  --checkpoint PATH       any agent checkpoint file (with --env-id, or inside a run folder); with --spawn DIR: a
                          world model with spawn points
  --test-game             a tiny built-in game, no model: checks the server, the network and the browser

Off 127.0.0.1 (--host) the server needs a token: one is made and printed in the URL unless --token gives it.
"""


def _positive(kind, what: str):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{what} {text!r}: expected a number > 0") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{what} {text!r}: expected a number > 0")
        return value

    return parse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = DESCRIPTION
    parser.add_argument("run_dir", nargs="?", default=".", metavar="RUN_DIR", help="run folder (default: .)")
    parser.add_argument(
        "-p", "--pretrained", default=None, metavar="GAME", help="published model: csgo or a game"
    )
    parser.add_argument("--checkpoint", type=Path, default=None, help="an agent checkpoint file")
    parser.add_argument("--env-id", default=None, help="env id for --checkpoint, e.g. BreakoutNoFrameskip-v4")
    parser.add_argument(
        "--spawn", type=Path, default=None, metavar="DIR", help="spawn points of a world model"
    )
    parser.add_argument(
        "--preset", default=None, help="CS:GO samplers: the world_model_env preset (default fast)"
    )
    parser.add_argument("--test-game", action="store_true", help="serve a tiny built-in game (no model)")
    parser.add_argument(
        "--horizon", type=int, default=None, help="imagination horizon (default 50; CS:GO 1000)"
    )
    parser.add_argument(
        "--denoising-steps", type=int, default=None, metavar="N", help="denoising steps per frame"
    )
    parser.add_argument(
        "-n", "--num-steps-initial-collect", type=int, default=1000, help="real steps (default 1000)"
    )
    parser.add_argument("--mouse-multiplier", type=float, default=None, help="CS:GO: mouse motion multiplier")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N, mps (default: best available)")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default=None, help="fp32 (default) or bf16")
    parser.add_argument("--fast", action="store_true", help="bf16 where native, and torch.compile")
    parser.add_argument(
        "--seed", type=int, default=None, help="seed of the players' games (player k: SEED + k)"
    )
    parser.add_argument(
        "--threads",
        type=_positive(int, "--threads"),
        default=None,
        help="torch CPU threads that step the games (default on CPU: every core for frames of 64x64 pixels or "
        "more, else one core fewer, left to the network side; at least 1)",
    )
    net = parser.add_argument_group("server")
    net.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    net.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0: any free)"
    )
    net.add_argument(
        "--token", default=None, help="the token players need (default off 127.0.0.1: a new one)"
    )
    net.add_argument(
        "--max-players",
        type=_positive(int, "--max-players"),
        default=4,
        help="games held at once (default 4)",
    )
    net.add_argument(
        "--fps",
        type=_positive(float, "--fps"),
        default=15.0,
        help="frames per second per player at most (default 15)",
    )
    net.add_argument(
        "--idle-timeout",
        type=_positive(float, "--idle-timeout"),
        default=300.0,
        help="seconds without input before a player is disconnected, and a disconnected player's game kept "
        "(default 300)",
    )
    net.add_argument(
        "--session-limit", type=float, default=0.0, help="seconds a player may play (default 0: no limit)"
    )
    net.add_argument("--record", type=Path, default=None, metavar="DIR", help="record each player's episodes")
    net.add_argument(
        "--record-max-gb",
        type=_positive(float, "--record-max-gb"),
        default=None,
        help="stop recording once the recordings under DIR hold this many GB",
    )
    add_agent_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run `diamond serve` with parsed arguments; ValueError (one line from `diamond`) for bad values."""
    from diamond_wm.serve.run import serve
    from diamond_wm.serve.security import is_loopback, new_token
    from diamond_wm.serve.server import Limits, Recording

    if args.session_limit < 0:
        raise ValueError(f"--session-limit {args.session_limit:g}: expected seconds >= 0 (0: no limit)")
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port {args.port}: expected 0 to 65535")
    if args.record_max_gb is not None and args.record is None:
        raise ValueError("--record-max-gb goes with --record DIR")
    limits = Limits(args.fps, args.max_players, args.idle_timeout, args.session_limit)
    token = args.token
    if token is None and not is_loopback(args.host):
        token = new_token()
    recording = None
    if args.record is not None:
        args.record.mkdir(parents=True, exist_ok=True)
        max_bytes = args.record_max_gb * 1e9 if args.record_max_gb is not None else None
        recording = Recording(args.record.resolve(), max_bytes)
    if args.test_game:
        from diamond_wm.serve.fake_game import FakeHost

        host, what = FakeHost(), "the test game"
    else:
        from diamond_wm.cli.serve_sources import session_host

        host, what = session_host(args)

    def announce(url: str) -> None:
        print(
            f"Serving {what} to at most {args.max_players} players. Open in a browser:\n\n  {url}\n",
            flush=True,
        )
        if recording is not None:
            print(f"Recording each player's episodes under {recording.directory}", flush=True)
        print("Ctrl-C stops the server.", flush=True)

    serve(host, limits, args.host, args.port, token, recording, args.seed, announce)
    return 0
