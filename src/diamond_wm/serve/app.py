"""The web application: the page, the WebSocket of each player, `/stats`; Starlette on uvicorn.

Routes: `/` (the page), `/play.js`, `/style.css` (the package's `static/` files, by these fixed names only),
`/stats` (JSON: `GameServer.stats`), `/ws` (the game, see `protocol.py`). Every request passes `Security`; the
page's response sets the token cookie when the token came in the URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from importlib import resources
from typing import Optional

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket

from diamond_wm.serve import protocol
from diamond_wm.serve.players import RELEASE_ALL, Outbox, Player, RateLimiter
from diamond_wm.serve.security import Security, headers
from diamond_wm.serve.server import GameServer, Refused

log = logging.getLogger(__name__)

STATIC = {"/": ("index.html", "text/html"), "/play.js": ("play.js", "text/javascript")}
STATIC["/style.css"] = ("style.css", "text/css")
HELLO_TIMEOUT = 10.0  # seconds a new connection has to say hello
NOTICE_RATE = 1.0  # error replies per second to one connection (bad messages, rate limit)
POLICY_VIOLATION = 1008


def _static(name: str) -> bytes:
    return resources.files("diamond_wm.serve").joinpath("static", name).read_bytes()


def create_app(server: GameServer, security: Security) -> Starlette:
    """The application serving `server` behind `security`; its lifespan runs the tick loop and stops it."""
    files = {path: (_static(name), mime) for path, (name, mime) in STATIC.items()}

    def refused(request: Request, why: str) -> Response:
        return PlainTextResponse(why, 403, headers=headers(request.headers.get("host", "")))

    async def static(request: Request) -> Response:
        why = security.refusal(request)
        if why is not None:
            return refused(request, why)
        body, mime = files[request.url.path]
        response = Response(body, media_type=mime, headers=headers(request.headers.get("host", "")))
        if security.token is not None and request.query_params.get("token"):
            response.set_cookie(security.cookie, security.token, httponly=True, samesite="strict")
        return response

    async def stats(request: Request) -> Response:
        why = security.refusal(request)
        if why is not None:
            return refused(request, why)
        return JSONResponse(server.stats(), headers=headers(request.headers.get("host", "")))

    async def websocket(ws: WebSocket) -> None:
        why = security.refusal(ws) or security.origin_refusal(ws)
        if why is not None:
            log.warning("WebSocket refused: %s", why)
            await ws.close(code=POLICY_VIOLATION)  # before accept: HTTP 403
            return
        await ws.accept()
        await Connection(server, ws).serve()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        task = asyncio.create_task(server.run())
        try:
            yield
        finally:
            await server.stop()
            await task

    routes = [Route(path, static) for path in files]
    routes += [Route("/stats", stats), WebSocketRoute("/ws", websocket)]
    return Starlette(routes=routes, lifespan=lifespan)


class Connection:
    """One WebSocket: the hello, then its messages in, its outbox out, until either side ends it."""

    def __init__(self, server: GameServer, ws: WebSocket):
        self.server, self.ws = server, ws
        self.outbox = Outbox()
        self.player: Optional[Player] = None
        self.notices = RateLimiter(NOTICE_RATE, 2)

    async def serve(self) -> None:
        sender = asyncio.create_task(self._send())
        receiver = asyncio.create_task(self._receive())
        try:
            await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.outbox.close()
            if self.player is not None:
                self.server.disconnected(self.player, self.outbox)
            receiver.cancel()
            with contextlib.suppress(asyncio.TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(sender, 2.0)  # the last messages (bye, fatal error), then close
            sender.cancel()

    async def _send(self) -> None:
        try:
            while (item := await self.outbox.get()) is not None:
                if isinstance(item, bytes):
                    await self.ws.send_bytes(item)
                else:
                    await self.ws.send_text(item)
            await self.ws.close()
        except Exception:  # the client went away
            pass
        finally:
            self.outbox.closed = True

    async def _next(self) -> Optional[object]:
        """The next message's text (or bytes); None when the client disconnected."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            return None
        text = message.get("text")
        return text if text is not None else message.get("bytes")

    def _fatal(self, code: str, message: str) -> None:
        self.outbox.close(protocol.error(code, message, fatal=True))

    async def _receive(self) -> None:
        try:
            data = await asyncio.wait_for(self._next(), HELLO_TIMEOUT)
        except asyncio.TimeoutError:
            return self._fatal(protocol.BAD_MESSAGE, f"no hello within {HELLO_TIMEOUT:g} s")
        if data is None:
            return
        try:
            hello = protocol.parse_client_message(data)
        except protocol.ProtocolError as e:
            return self._fatal(protocol.BAD_MESSAGE, f"{e} (first message: hello)")
        if not isinstance(hello, protocol.Hello):
            return self._fatal(protocol.BAD_MESSAGE, "first message: expected hello")
        if hello.version != protocol.PROTOCOL_VERSION:
            return self._fatal(
                protocol.VERSION,
                f"page of protocol version {hello.version!r}, server of {protocol.PROTOCOL_VERSION}: reload the page",
            )
        try:
            self.player, resumed = await self.server.connect(self.outbox, hello.resume)
        except Refused as e:
            return self._fatal(e.code, str(e))
        game = self.player.game
        self.outbox.put_control(
            protocol.welcome(
                self.player.resume,
                resumed,
                game.controls_help(),
                game.bindings,
                game.uses_mouse,
                self.server.limits.fps,
            )
        )
        while (data := await self._next()) is not None:
            self._message(data)

    def _message(self, data: object) -> None:
        assert self.player is not None
        if not self.player.limiter.allow():
            if self.notices.allow():
                self.outbox.put_control(
                    protocol.error(protocol.RATE_LIMITED, "too many messages: some dropped")
                )
            return
        try:
            message = protocol.parse_client_message(data)
        except protocol.ProtocolError as e:
            if self.notices.allow():
                self.outbox.put_control(protocol.error(protocol.BAD_MESSAGE, f"{e}: message dropped"))
            return
        if isinstance(message, protocol.Ping):
            self.outbox.put_control(protocol.pong(message.t))
        elif isinstance(message, protocol.InputMessage):
            self.server.input(self.player, message.input)
        elif isinstance(message, protocol.ReleaseAll):
            self.server.input(self.player, RELEASE_ALL)
        elif self.notices.allow():
            self.outbox.put_control(protocol.error(protocol.BAD_MESSAGE, "hello again: message dropped"))
