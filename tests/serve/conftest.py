"""A real server on loopback for the tests: uvicorn on a free port in a thread, serving the test game."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import pytest
from websockets.sync.client import ClientConnection, connect

from diamond_wm.serve.fake_game import FakeHost
from diamond_wm.serve.protocol import PROTOCOL_VERSION, split_frame_message
from diamond_wm.serve.run import bind, build_uvicorn
from diamond_wm.serve.server import GameServer, Limits


@dataclass
class Running:
    """A server running in a thread: its URL, its game server and host."""

    base: str  # http://127.0.0.1:PORT
    port: int
    game_server: GameServer
    host: FakeHost
    token: Optional[str]
    clients: contextlib.ExitStack

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    def connect(self, **kwargs: Any) -> ClientConnection:
        """A WebSocket client, closed at the end of the test at the latest."""
        kwargs = {"open_timeout": 10, "close_timeout": 1, **kwargs}
        return self.clients.enter_context(connect(self.ws_url, **kwargs))

    def raw_client(self) -> socket.socket:
        """A WebSocket client on a bare socket that says hello, then reads nothing more (a frozen browser)."""
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.clients.callback(sock.close)
        key = base64.b64encode(os.urandom(16)).decode()
        sock.sendall(
            (
                f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(1)
        assert response.startswith(b"HTTP/1.1 101"), response
        hello = json.dumps({"type": "hello", "version": PROTOCOL_VERSION, "resume": None}).encode()
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(hello))
        sock.sendall(bytes([0x81, 0x80 | len(hello)]) + mask + masked)  # one masked text frame (< 126 bytes)
        return sock

    def join(self, resume: Optional[str] = None, **kwargs: Any) -> tuple[ClientConnection, dict]:
        """A connected player: (connection, welcome message)."""
        ws = self.connect(**kwargs)
        ws.send(json.dumps({"type": "hello", "version": PROTOCOL_VERSION, "resume": resume}))
        welcome = next_control(ws)
        assert welcome["type"] == "welcome", welcome
        return ws, welcome


def next_control(ws: ClientConnection, timeout: float = 10.0, kind: Optional[str] = None) -> dict:
    """The next JSON message (of type `kind` when given), skipping frames."""
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, str):
            parsed = json.loads(message)
            if kind is None or parsed["type"] == kind:
                return parsed


def next_frame(ws: ClientConnection, timeout: float = 10.0) -> tuple[dict, bytes]:
    """(meta, image) of the next frame, skipping control messages."""
    deadline = time.monotonic() + timeout
    while True:
        message = ws.recv(timeout=max(0.01, deadline - time.monotonic()))
        if isinstance(message, bytes):
            return split_frame_message(message)


def send_input(ws: ClientConnection, **inp: Any) -> None:
    ws.send(json.dumps({"type": "input", "input": inp}))


@pytest.fixture(scope="package")
def tiny_run(tmp_path_factory):
    """A finished tiny Catch run (seconds to train)."""
    from tests.play.tiny_run import train_tiny_run

    return train_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture
def serve_test_game() -> Iterator:
    """`serve_test_game(limits=, token=, host=, send_buffer=, **build_uvicorn kwargs)` -> Running, a server of the
    test game (or of `host`) that stops after the test."""
    started: list[tuple[Any, threading.Thread]] = []
    clients = contextlib.ExitStack()

    def start(
        limits: Optional[Limits] = None,
        token: Optional[str] = None,
        host: Optional[Any] = None,
        send_buffer: Optional[int] = None,
        **kw,
    ):
        host = host or FakeHost()
        sock = bind("127.0.0.1", 0)
        if send_buffer is not None:  # the connections' socket send buffer (loopback's holds megabytes)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        server, game_server = build_uvicorn(host, limits or Limits(fps=30), sock, token, **kw)
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.02)
        port = sock.getsockname()[1]
        return Running(f"http://127.0.0.1:{port}", port, game_server, host, token, clients)

    yield start
    with contextlib.suppress(Exception):
        clients.close()
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=20)
        assert not thread.is_alive(), "the server did not stop"
