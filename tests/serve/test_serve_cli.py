"""`diamond serve` as a user runs it: the URL printed, the token off loopback, a clean exit on SIGTERM."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time

from websockets.sync.client import connect

from diamond_wm.serve import protocol

from ..conftest import cli_command, cli_env, run_cli
from .conftest import next_control, next_frame, send_input


def _start(*args: str, tmp_path) -> tuple[subprocess.Popen, str]:
    """A `diamond serve --test-game` subprocess and the URL it printed."""
    proc = subprocess.Popen(
        cli_command("serve", "--test-game", "--port", "0", *args),
        env=cli_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 60
    for line in proc.stdout:
        found = re.search(r"http://\S+", line)
        if found:
            return proc, found.group(0)
        assert time.monotonic() < deadline, "no URL printed"
    raise AssertionError(f"diamond serve exited with {proc.wait()} before printing a URL")


def test_sigterm_stops_the_server_cleanly_and_stores_the_recordings(tmp_path):
    proc, url = _start("--record", str(tmp_path / "rec"), tmp_path=tmp_path)
    try:
        ws_url = url.replace("http://", "ws://") + "ws"
        with connect(ws_url, open_timeout=10, close_timeout=1) as ws:
            ws.send(json.dumps({"type": "hello", "version": protocol.PROTOCOL_VERSION, "resume": None}))
            assert next_control(ws)["type"] == "welcome"
            send_input(ws, key_down="d")
            for _ in range(5):
                next_frame(ws)
            proc.send_signal(signal.SIGTERM)
            bye = next_control(ws, kind="bye")
            assert bye["code"] == protocol.SHUTDOWN
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
    output = proc.stdout.read()
    assert "Traceback" not in output
    episodes = list((tmp_path / "rec").glob("*_player1/episode_*.npz"))
    assert len(episodes) == 1  # the episode being played, stored on the way out


def test_off_loopback_a_token_is_made_and_printed(tmp_path):
    proc, url = _start("--host", "0.0.0.0", tmp_path=tmp_path)
    try:
        assert re.search(r"/\?token=[A-Za-z0-9_-]{20,}$", url), url
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()


def test_bad_values_get_one_line_naming_them():
    result = run_cli("serve", "--test-game", "--fps", "0", timeout=60)
    assert result.returncode == 2 and "--fps '0': expected a number > 0" in result.stderr
    result = run_cli("serve", "--test-game", "--record-max-gb", "1", timeout=60)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "diamond serve: --record-max-gb goes with --record DIR"
