"""The messages' checks, the frame encoding, the bounded outbox and the input rate limit (no network)."""

from __future__ import annotations

import asyncio
import json

import numpy as np
import pytest

from diamond_wm.interactive.commands import Command, KeyDown, MouseMove
from diamond_wm.serve import protocol
from diamond_wm.serve.frames import encode_frame
from diamond_wm.serve.players import MAX_CONTROL, Outbox, RateLimiter
from diamond_wm.serve.protocol import ProtocolError, parse_client_message


def test_valid_messages_are_read():
    hello = parse_client_message(json.dumps({"type": "hello", "version": 1, "resume": "abc"}))
    assert hello == protocol.Hello(1, "abc")
    key = parse_client_message('{"type": "input", "input": {"key_down": "left ctrl"}}')
    assert key == protocol.InputMessage(KeyDown("left ctrl"))
    assert parse_client_message('{"type": "input", "input": {"command": "reset"}}').input is Command.RESET
    move = parse_client_message('{"type": "input", "input": {"mouse_move": [3, -2.5]}}')
    assert move.input == MouseMove(3.0, -2.5)
    assert parse_client_message('{"type": "release_all"}') == protocol.ReleaseAll()
    assert parse_client_message('{"type": "ping", "t": 12.5}') == protocol.Ping(12.5)


@pytest.mark.parametrize(
    "text, words",
    [
        (b"\x00\x01", "binary message"),
        ("x" * (protocol.MAX_MESSAGE_BYTES + 1), "expected at most 1024"),
        ("{not json", "expected JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"type": "file", "path": "/etc/passwd"}', "message type 'file'"),
        ('{"type": "input", "input": {"key_down": "w"}, "path": "/tmp"}', "fields ['path']"),
        ('{"type": "input", "input": {"command": "quit"}}', "command 'quit': expected one of reset"),
        ('{"type": "input", "input": {"mouse_move": [1e9, 0]}}', "mouse dx"),
        ('{"type": "ping", "t": "now"}', "ping t 'now'"),
        ('{"type": "hello", "version": 1, "resume": 5}', "resume 5"),
    ],
)
def test_bad_messages_are_refused_with_what_is_accepted(text, words):
    with pytest.raises(ProtocolError) as caught:
        parse_client_message(text)
    assert words in str(caught.value)


def test_frame_messages_carry_meta_and_image():
    data = protocol.frame_message(7, "image/png", [["a", "b"], ["c"]], b"IMG")
    meta, image = protocol.split_frame_message(data)
    assert meta == {"seq": 7, "mime": "image/png", "header": [["a", "b"], ["c"]], "t": 0.0}
    assert image == b"IMG"


def test_small_frames_are_lossless_png_and_large_ones_jpeg():
    import cv2

    small = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    mime, data = encode_frame(small)
    assert mime == "image/png"
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]
    assert np.array_equal(decoded, small)
    large = np.zeros((150, 280, 3), np.uint8)
    mime, data = encode_frame(large)
    assert mime == "image/jpeg" and data[:2] == b"\xff\xd8"
    with pytest.raises(ValueError, match=r"shape \(64, 64\) and dtype uint8: expected \(H, W, 3\) uint8"):
        encode_frame(small[:, :, 0])


def test_outbox_keeps_the_latest_frame_and_bounded_control_messages():
    async def scenario():
        box = Outbox()
        for i in range(10):
            box.put_frame(bytes([i]))
        for i in range(MAX_CONTROL + 5):
            box.put_control(str(i))
        got = [await box.get() for _ in range(MAX_CONTROL + 1)]
        return box, got

    box, got = asyncio.run(scenario())
    assert got[0] == "5" and got[MAX_CONTROL - 1] == str(MAX_CONTROL + 4)  # the 5 oldest dropped
    assert got[-1] == bytes([9])  # then the latest frame only
    assert (box.frames_skipped, box.control_dropped) == (9, 5)


def test_closing_outbox_sends_its_last_message_then_ends():
    async def scenario():
        box = Outbox()
        box.put_frame(b"frame")
        box.close(protocol.bye(protocol.SHUTDOWN, "stopped"))
        return [await box.get(), await box.get()]

    last, end = asyncio.run(scenario())
    assert json.loads(last)["code"] == protocol.SHUTDOWN and end is None


def test_rate_limiter_allows_bursts_then_the_rate():
    limiter = RateLimiter(rate=10, burst=5)
    now = limiter.updated
    assert sum(limiter.allow(now) for _ in range(20)) == 5
    assert sum(limiter.allow(now + 1.0) for _ in range(20)) == 5  # refilled to the burst after a second
    with pytest.raises(ValueError, match="rate 0, burst 5"):
        RateLimiter(0, 5)
