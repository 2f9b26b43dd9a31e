"""Faults: a client that leaves mid-frame, one that never reads, one that floods inputs; the others play on."""

from __future__ import annotations

import json
import socket
import time

from diamond_wm.serve import protocol
from diamond_wm.serve.fake_game import FakeHost
from diamond_wm.serve.server import Limits

from .conftest import next_control, next_frame, send_input


def _rate(ws, seconds: float) -> float:
    start, n = time.monotonic(), 0
    while time.monotonic() - start < seconds:
        next_frame(ws)
        n += 1
    return n / (time.monotonic() - start)


def test_client_gone_mid_frame_leaves_the_others_playing(serve_test_game):
    running = serve_test_game(host=FakeHost(size=(150, 280)))
    stayer, _ = running.join()
    leaver, _ = running.join()
    next_frame(leaver)
    raw = leaver.socket  # drop the TCP connection without a WebSocket close, frames on the way
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    raw.close()
    assert _rate(stayer, 1.0) > 10
    deadline = time.monotonic() + 10
    while running.game_server.stats()["connected"] != 1:
        assert time.monotonic() < deadline, "the server did not notice the client leave"
        time.sleep(0.05)


def test_a_client_that_never_reads_holds_no_queue_and_slows_nobody(serve_test_game):
    host = FakeHost(size=(150, 280), noise=True)  # ~100 KB a frame
    running = serve_test_game(host=host, limits=Limits(fps=30), send_buffer=16384)
    reader, _ = running.join()
    running.raw_client()
    time.sleep(3.0)  # the sleeper reads nothing: its socket fills, its frames are skipped
    assert _rate(reader, 1.5) > 20
    stats = {p["player"]: p for p in running.game_server.stats()["per_player"]}
    sleeper_stats = stats[2]
    assert sleeper_stats["frames"] > 60  # its game kept stepping
    assert sleeper_stats["frames_skipped"] > 30  # but the frames it did not take were dropped, not queued
    assert sleeper_stats["frames"] - sleeper_stats["frames_skipped"] < 20  # its socket took few
    assert stats[1]["frames_skipped"] < stats[1]["frames"] // 2
    player = next(p for p in running.game_server.players.values() if p.number == 2)
    assert player.outbox is not None and player.outbox.frame is not None and len(player.outbox.control) <= 64


def test_a_flooding_client_is_rate_limited_and_the_others_play_on(serve_test_game):
    running = serve_test_game()
    calm, _ = running.join()
    flood, _ = running.join()
    message = json.dumps({"type": "input", "input": {"key_down": "w"}})
    start = time.monotonic()
    for _ in range(3000):
        flood.send(message)
    assert time.monotonic() - start < 10
    warning = next_control(flood, kind="error")
    assert warning["code"] == protocol.RATE_LIMITED and warning["fatal"] is False
    flooder = next(p for p in running.game_server.players.values() if p.number == 2)
    assert len(flooder.pending) <= 256
    send_input(calm, key_down="d")
    assert _rate(calm, 1.0) > 15
    meta, _ = next_frame(calm)
    assert "Action : d" in meta["header"][1]


def test_bad_and_oversized_messages_get_an_error_and_are_dropped(serve_test_game):
    running = serve_test_game()
    ws, _ = running.join()
    ws.send(json.dumps({"type": "input", "input": {"key_down": "x" * 2000}}))
    error = next_control(ws, kind="error")
    assert error["code"] == protocol.BAD_MESSAGE and "expected at most 1024" in error["message"]
    time.sleep(1.1)  # error replies are limited to about one a second
    ws.send(json.dumps({"type": "input", "input": {"path": "/etc/passwd"}}))
    error = next_control(ws, kind="error")
    assert "expected exactly one of command" in error["message"]
    send_input(ws, key_down="a")  # the connection goes on
    deadline = time.monotonic() + 10
    while "Action : a" not in next_frame(ws)[0]["header"][1]:
        assert time.monotonic() < deadline


def test_a_slow_join_stalls_nobody(serve_test_game):
    import threading

    running = serve_test_game(limits=Limits(fps=30))
    player, _ = running.join()
    next_frame(player)
    running.host.join_delay = 2.0  # a game that takes 2 s to make
    joined = []
    thread = threading.Thread(target=lambda: joined.append(running.join()), daemon=True)
    thread.start()
    assert _rate(player, 1.5) > 20  # while the other joins
    thread.join(timeout=20)
    assert joined and joined[0][1]["type"] == "welcome"


def test_a_slow_tick_leaves_the_connections_responsive(serve_test_game):
    running = serve_test_game(host=FakeHost(tick_delay=0.5))
    ws, _ = running.join()
    next_frame(ws)  # a tick of 0.5 s is running or about to
    start = time.monotonic()
    ws.send(json.dumps({"type": "ping", "t": 1.0}))
    pong = next_control(ws, kind="pong")
    assert pong["t"] == 1.0 and time.monotonic() - start < 0.3  # answered while the tick runs
