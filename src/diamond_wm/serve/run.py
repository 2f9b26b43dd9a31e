"""Running the server: the socket bound, the URL printed, uvicorn until SIGTERM or Ctrl-C, then a clean stop.

On SIGTERM or Ctrl-C every player is told, every game ends (`GameServer.stop`: recordings stored), then uvicorn
stops accepting, closes the connections, and `serve` returns.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from types import FrameType
from typing import Optional

import uvicorn
from uvicorn.config import WS_PROTOCOLS

from diamond_wm.serve.app import create_app
from diamond_wm.serve.host import GameHost
from diamond_wm.serve.security import Security, is_loopback
from diamond_wm.serve.server import GameServer, Limits, Recording

log = logging.getLogger(__name__)

WS_MAX_SIZE = (
    64 * 1024
)  # bytes: a larger WebSocket message closes the connection (the protocol's limit is 1 KiB)
GRACEFUL_SHUTDOWN = 5.0  # seconds the connections get to close on SIGTERM
# uvicorn's WebSocket protocol on the `websockets` library: its sans-I/O one where this uvicorn has it (the older
# one is deprecated); both wait for the socket to drain before the next send (a client that does not read holds
# up its own sender only).
WS_PROTOCOL = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "websockets"


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on (host, port); port 0 picks a free one. OSError when taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def url(host: str, port: int, token: Optional[str]) -> str:
    """The URL to open: this machine's name for a wildcard address, the token in the query."""
    shown = socket.gethostname() if host in ("0.0.0.0", "::", "") else host
    shown = f"[{shown}]" if ":" in shown else shown
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


class _Server(uvicorn.Server):
    """uvicorn's server, but on SIGTERM or Ctrl-C the players are told and their games end (recordings stored)
    before uvicorn closes the connections, and `run` returns (uvicorn raises the signal again after its clean
    stop, which would end the process with SIGTERM's status). A second signal stops at once."""

    def __init__(self, config: uvicorn.Config, game_server: GameServer):
        super().__init__(config)
        self.game_server = game_server
        self.on_started: Callable[[], None] = lambda: None  # once listening, signals handled
        self._stopping: Optional[asyncio.Task] = None
        self._signalled = False

    def handle_exit(self, sig: int, frame: Optional[FrameType]) -> None:
        if self._signalled or self.should_exit:
            self.should_exit = self.force_exit = True
            return
        self._signalled = True
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # not serving yet
            self.should_exit = True
            return
        loop.call_soon_threadsafe(self._begin_stop)  # safe in a signal handler

    async def startup(self, sockets: Optional[list[socket.socket]] = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started()

    def _begin_stop(self) -> None:
        log.info("stopping: telling the players, storing the recordings")
        self._stopping = asyncio.ensure_future(self._stop_games())

    async def _stop_games(self) -> None:
        try:
            await self.game_server.stop()
        finally:
            self.should_exit = True


def build_uvicorn(
    host: GameHost, limits: Limits, sock: socket.socket, token: Optional[str], **kwargs
) -> tuple:
    """(uvicorn server, game server) serving `host` on the bound `sock`; kwargs: `recording`, `seed`."""
    recording: Optional[Recording] = kwargs.get("recording")
    game_server = GameServer(host, limits, recording, kwargs.get("seed"))
    app = create_app(game_server, Security(token, sock.getsockname()[1]))
    config = uvicorn.Config(
        app,
        ws=WS_PROTOCOL,
        ws_max_size=WS_MAX_SIZE,
        ws_per_message_deflate=False,  # frames are compressed images already
        lifespan="on",
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
    )
    return _Server(config, game_server), game_server


def serve(
    host: GameHost,
    limits: Limits,
    bind_host: str = "127.0.0.1",
    port: int = 8765,
    token: Optional[str] = None,
    recording: Optional[Recording] = None,
    seed: Optional[int] = None,
    announce: Callable[[str], None] = print,
) -> None:
    """Serve until SIGTERM / Ctrl-C. Off loopback a token is required: `token` None there is a ValueError (the
    caller makes one with `security.new_token`). `announce` gets the URL once the server listens."""
    if token is None and not is_loopback(bind_host):
        raise ValueError(f"--host {bind_host}: not a loopback address, a token is required")
    sock = bind(bind_host, port)
    server, _ = build_uvicorn(host, limits, sock, token, recording=recording, seed=seed)
    server.on_started = lambda: announce(url(bind_host, sock.getsockname()[1], token))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    log.info("server stopped")
