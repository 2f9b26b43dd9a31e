"""Security: a token off loopback, checked on the page, the stats and the WebSocket; Host and Origin checks; the
headers of every response; oversized messages."""

from __future__ import annotations

import http.client
import json

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus

from diamond_wm.serve.fake_game import FakeHost
from diamond_wm.serve.run import serve
from diamond_wm.serve.security import COOKIE, Security, csp, is_loopback
from diamond_wm.serve.server import Limits

from .conftest import next_control, next_frame

TOKEN = "s3cret-token-for-tests"


def _get(port: int, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    response = conn.getresponse()
    response.body = response.read()
    conn.close()
    return response


def test_off_loopback_needs_a_token():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    with pytest.raises(ValueError, match="--host 0.0.0.0: not a loopback address, a token is required"):
        serve(FakeHost(), Limits(), "0.0.0.0", 0, token=None)
    with pytest.raises(ValueError, match="--token: expected at least 8 printable ASCII characters"):
        Security("short")


def test_page_and_stats_need_the_token(serve_test_game):
    running = serve_test_game(token=TOKEN)
    missing = _get(running.port, "/")
    assert missing.status == 403 and b"needs its token" in missing.body
    wrong = _get(running.port, "/?token=not-the-token")
    assert wrong.status == 403 and b"wrong token" in wrong.body
    assert _get(running.port, "/stats").status == 403
    cookie_name = f"{COOKIE}_{running.port}"
    page = _get(running.port, f"/?token={TOKEN}")
    assert page.status == 200 and b"<canvas" in page.body
    cookie = page.getheader("set-cookie")
    assert (
        cookie.startswith(f"{cookie_name}={TOKEN}") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    )
    assert _get(running.port, "/play.js", {"Cookie": f"{cookie_name}={TOKEN}"}).status == 200
    assert _get(running.port, "/play.js", {"Cookie": f"{COOKIE}_1={TOKEN}"}).status == 403  # another server's
    stats = _get(running.port, "/stats", {"Authorization": f"Bearer {TOKEN}"})
    assert stats.status == 200 and json.loads(stats.body)["players"] == 0


def test_every_response_carries_the_security_headers(serve_test_game):
    running = serve_test_game()
    for path in ("/", "/play.js", "/style.css", "/stats"):
        response = _get(running.port, path)
        assert response.status == 200, path
        assert response.getheader("referrer-policy") == "no-referrer"
        policy = response.getheader("content-security-policy")
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.getheader("x-content-type-options") == "nosniff"
    assert "ws://127.0.0.1:8765 " in csp("127.0.0.1:8765")
    assert "*" not in csp("localhost; script-src *")  # a Host header cannot add to the policy
    assert _get(running.port, "/../pyproject.toml").status == 404  # the page's files only, by name
    assert _get(running.port, "/static/index.html").status == 404


def test_websocket_needs_the_token(serve_test_game):
    running = serve_test_game(token=TOKEN)
    cookie_name = f"{COOKIE}_{running.port}"
    for headers in ({}, {"Cookie": f"{cookie_name}=wrong-token-123"}):
        with pytest.raises(InvalidStatus) as refused:
            running.connect(additional_headers=headers)
        assert refused.value.response.status_code == 403
    ws, _ = running.join(additional_headers={"Cookie": f"{cookie_name}={TOKEN}"})
    next_frame(ws)


def test_websocket_from_another_origin_is_refused(serve_test_game):
    running = serve_test_game()
    with pytest.raises(InvalidStatus) as refused:
        running.connect(origin="http://evil.example")
    assert refused.value.response.status_code == 403
    ws, _ = running.join(origin=f"http://127.0.0.1:{running.port}")  # the page's own origin
    next_frame(ws)


def test_without_token_only_loopback_host_names_are_answered(serve_test_game):
    running = serve_test_game()
    rebound = _get(running.port, "/", {"Host": f"evil.example:{running.port}"})
    assert rebound.status == 403 and b"loopback host name only" in rebound.body
    assert _get(running.port, "/", {"Host": f"localhost:{running.port}"}).status == 200


def test_a_message_past_the_transport_limit_closes_the_connection(serve_test_game):
    running = serve_test_game()
    ws, _ = running.join()
    other, _ = running.join()
    ws.send("x" * 100_000)
    with pytest.raises(ConnectionClosed):
        next_control(ws, timeout=10, kind="never")
    next_frame(other)  # the others play on
