"""The server with real WebSocket clients on loopback: play, several players, limits, resume, errors, stats."""

from __future__ import annotations

import json
import time
import urllib.request

import cv2
import numpy as np
import pytest

from diamond_wm.serve import protocol
from diamond_wm.serve.server import Limits, Recording

from .conftest import next_control, next_frame, send_input


def _pixels(image: bytes) -> np.ndarray:
    return cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)


def _frame_after(ws, test) -> dict:
    """The meta of the first frame within 10 s whose meta passes `test`."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        meta, _ = next_frame(ws)
        if test(meta):
            return meta
    raise AssertionError("no such frame within 10 s")


def test_a_player_plays_frames_change_with_the_keys(serve_test_game):
    running = serve_test_game()
    ws, welcome = running.join()
    assert welcome["bindings"]["return"] == "reset" and welcome["mouse"] is True
    assert "Controls (test game):" in welcome["controls"]
    meta, before = next_frame(ws)
    assert meta["mime"] == "image/png" and _pixels(before).shape == (64, 64, 3)
    send_input(ws, key_down="d")
    meta = _frame_after(ws, lambda m: "Action : d" in m["header"][1])
    _, after = next_frame(ws)
    assert not np.array_equal(_pixels(before)[1:], _pixels(after)[1:])  # the square moved, the colour changed
    send_input(ws, key_up="d")
    _frame_after(ws, lambda m: "Action : NOOP" in m["header"][1])
    send_input(ws, command="reset")
    _frame_after(ws, lambda m: m["header"][0][2] in ("Timestep: 1", "Timestep: 2"))
    ws.close()


def test_two_players_play_in_one_batch_at_their_frame_rate(serve_test_game):
    running = serve_test_game(limits=Limits(fps=20))
    a, _ = running.join()
    b, _ = running.join()
    start = time.monotonic()
    counts = [0, 0]
    while time.monotonic() - start < 1.5:
        for i, ws in enumerate((a, b)):
            next_frame(ws)
            counts[i] += 1
    rate = [c / (time.monotonic() - start) for c in counts]
    assert all(10 <= r <= 22 for r in rate), rate  # capped at 20 each
    assert max(running.host.batch_sizes) == 2  # both stepped in one tick
    stats = running.game_server.stats()
    assert stats["players"] == 2 and stats["batch_size"]["mean"] > 1.0


def test_server_full_then_a_place_frees(serve_test_game):
    running = serve_test_game(limits=Limits(max_players=1, idle_timeout=0.5))
    first, _ = running.join()
    second = running.connect()
    second.send(json.dumps({"type": "hello", "version": protocol.PROTOCOL_VERSION, "resume": None}))
    refusal = next_control(second)
    assert refusal["code"] == protocol.FULL and refusal["fatal"] is True
    first.close()
    deadline = time.monotonic() + 10  # the disconnected player's game waits out the idle timeout, then ends
    while running.game_server.stats()["players"]:
        assert time.monotonic() < deadline, "the disconnected player's game did not end"
        time.sleep(0.05)
    third, welcome = running.join()
    assert welcome["resumed"] is False
    third.close()


def test_reconnecting_player_gets_their_game_back(serve_test_game):
    running = serve_test_game()
    ws, welcome = running.join()
    send_input(ws, key_down="s")
    meta = _frame_after(ws, lambda m: m["header"][0][2] != "Timestep: 0" and "Action : s" in m["header"][1])
    ws.close()
    again, second = running.join(resume=welcome["resume"])
    assert second["resumed"] is True and second["resume"] == welcome["resume"]
    later, _ = next_frame(again)
    assert later["seq"] > meta["seq"]  # the same game, its frames go on
    assert running.game_server.stats()["players"] == 1
    again.close()


def test_stale_page_is_told_to_reload(serve_test_game):
    running = serve_test_game()
    ws = running.connect()
    ws.send(json.dumps({"type": "hello", "version": 0, "resume": None}))
    reply = next_control(ws)
    assert reply["code"] == protocol.VERSION and "reload the page" in reply["message"]


def test_idle_player_is_told_and_disconnected(serve_test_game):
    running = serve_test_game(limits=Limits(idle_timeout=0.6))
    ws, _ = running.join()
    bye = next_control(ws, kind="bye")
    assert bye["code"] == protocol.IDLE_TIMEOUT and "idle timeout" in bye["message"]
    deadline = time.monotonic() + 10
    while len(running.host.left) != 1:  # the game ends in the tick thread, beside the goodbye
        assert time.monotonic() < deadline, "the game did not end"
        time.sleep(0.02)


def test_session_limit_ends_the_game(serve_test_game):
    running = serve_test_game(limits=Limits(session_limit=0.6))
    ws, _ = running.join()
    bye = next_control(ws, kind="bye")
    assert bye["code"] == protocol.SESSION_LIMIT


def test_a_failing_tick_tells_its_players_and_the_server_goes_on(serve_test_game):
    running = serve_test_game()
    a, _ = running.join()
    b, _ = running.join()
    next_frame(a)
    running.host.fail_ticks = 3
    for ws in (a, b):
        error = next_control(ws, kind="error")
        assert error["code"] == protocol.MODEL_ERROR and "a model error" in error["message"]
        assert error["fatal"] is False
    meta, _ = next_frame(a)  # frames again
    next_frame(b)
    c, _ = running.join()  # and new players join
    next_frame(c)
    assert running.game_server.stats()["model_errors"] == 3


def test_stats_endpoint_reports_ticks_and_players(serve_test_game):
    running = serve_test_game()
    ws, _ = running.join()
    next_frame(ws)
    next_frame(ws)
    with urllib.request.urlopen(running.base + "/stats", timeout=10) as response:
        stats = json.load(response)
    assert stats["players"] == 1 and stats["ticks"] >= 2 and stats["tick_ms"]["mean"] >= 0
    assert stats["per_player"][0]["frames"] >= 2


def test_recording_per_player_and_the_quota(serve_test_game, tmp_path):
    running = serve_test_game(recording=Recording(tmp_path, max_bytes=1, check_every=0.2))
    ws, _ = running.join()
    send_input(ws, command="reset")  # the episode so far is stored (the test game stores on reset)
    note = next_control(ws, timeout=15, kind="notice")
    assert "recording stopped" in note["message"] and str(tmp_path) in note["message"]
    folders = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(folders) == 1 and folders[0].name.endswith("_player1")
    assert sorted(p.name for p in folders[0].iterdir())[0] == "episode_0.npz"
    assert running.game_server.stats()["recording"] is False


@pytest.mark.parametrize("hello", ['{"type": "ping", "t": 1}', "not json"])
def test_a_connection_must_say_hello_first(serve_test_game, hello):
    running = serve_test_game()
    ws = running.connect()
    ws.send(hello)
    reply = next_control(ws)
    assert reply["code"] == protocol.BAD_MESSAGE and reply["fatal"] is True
