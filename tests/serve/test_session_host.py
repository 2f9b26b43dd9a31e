"""`diamond serve` on a real (tiny) model: `diamond play`'s sessions behind the server's game interface."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time

import numpy as np
import pytest
from websockets.sync.client import connect

from diamond_wm.cli.main import build_parser
from diamond_wm.cli.serve_sources import session_host
from diamond_wm.interactive.commands import Command, KeyDown, KeyUp
from diamond_wm.serve import protocol
from diamond_wm.serve.session_host import SessionGame
from tests.play.tiny_run import one_thread

from ..conftest import cli_command, cli_env
from .conftest import next_control, next_frame, send_input


def test_sessions_of_a_run_play_record_and_end(tiny_run, tmp_path, monkeypatch):
    import diamond_wm.interactive.batch as batch

    batches = []
    step_together = batch.step_together
    monkeypatch.setattr(
        batch,
        "step_together",
        lambda envs, acts, *a: batches.append(len(envs)) or step_together(envs, acts, *a),
    )
    args = build_parser("serve").parse_args(["serve", str(tiny_run), "--device", "cpu", "--seed", "0"])
    with one_thread():
        host, what = session_host(args)
        assert "catch" in what.lower()
        first = host.join(1, None)
        second = host.join(2, tmp_path / "rec")
        assert isinstance(first, SessionGame) and first.bindings["return"] is Command.RESET
        assert not first.uses_mouse
        for game in (first, second):
            game.handle(Command.SWITCH_CONTROLLER)  # policy -> human
        second.handle(KeyDown("a"))
        for _ in range(3):
            host.tick([first, second])
        assert first.session.controller == "human"
        assert batches == [2, 2, 2]  # the two world models stepped as one batch in each tick
        frame = second.frame()
        assert frame.dtype == np.uint8 and frame.shape[2] == 3 and frame.shape[:2] == first.frame().shape[:2]
        assert any("Control : human" in line for line in second.header()[0])
        second.handle(KeyUp("a"))
        second.release_all()
        assert not second.session.pressed
        assert "h or ?" in second.controls_help()[1]  # the page's own key first
        host.leave(second)  # the episode being played is stored
        host.leave(first)
    recorded = list((tmp_path / "rec" / "dataset").glob("rec_wm_human/**/*.pt"))
    assert recorded, "no episode recorded"


def test_diamond_serve_a_run_then_sigterm(tiny_run, tmp_path):
    proc = subprocess.Popen(
        cli_command("serve", str(tiny_run), "--device", "cpu", "--port", "0", "--fps", "5"),
        env=cli_env(),
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = None
        for line in proc.stdout:
            found = re.search(r"http://\S+", line)
            if found:
                url = found.group(0)
                break
        assert url is not None, f"diamond serve exited with {proc.wait()}"
        with connect(url.replace("http://", "ws://") + "ws", open_timeout=30, close_timeout=1) as ws:
            ws.send(json.dumps({"type": "hello", "version": protocol.PROTOCOL_VERSION, "resume": None}))
            welcome = next_control(ws, timeout=60)
            assert welcome["type"] == "welcome" and welcome["bindings"]["m"] == "switch_controller"
            send_input(ws, command="switch_controller")
            meta, image = next_frame(ws, timeout=60)
            assert meta["mime"] == "image/png" and image[:4] == b"\x89PNG"
            start = time.monotonic()
            while "Control : human" not in meta["header"][0]:
                assert time.monotonic() - start < 60
                meta, _ = next_frame(ws, timeout=60)
            proc.send_signal(signal.SIGTERM)
            assert next_control(ws, kind="bye", timeout=60)["code"] == protocol.SHUTDOWN
        assert proc.wait(timeout=60) == 0
    finally:
        proc.kill()


def test_csgo_sessions_take_the_mouse_and_leave_the_arrow_keys_to_the_game(tmp_path):
    from diamond_wm.interactive.commands import MouseButton, MouseMove
    from tests.play.tiny_csgo import write_tiny_csgo

    tiny = write_tiny_csgo(tmp_path / "csgo")
    argv = ["serve", "--checkpoint", str(tiny.checkpoint), "--spawn", str(tiny.spawn), "--device", "cpu"]
    argv += ["--agent-config", str(tiny.agent_config)]
    args = build_parser("serve").parse_args([*argv, "--seed", "0"])
    with one_thread():
        host, what = session_host(args)
        assert "CS:GO world model" in what
        game = host.join(1, tmp_path / "rec")
        assert game.uses_mouse and sorted(game.bindings) == [".", "e", "m", "return"]  # arrows: the camera
        game.handle(Command.SWITCH_CONTROLLER)  # replay -> human
        game.handle(KeyDown("w"))
        game.handle(KeyDown("up"))
        game.handle(MouseMove(3.0, -1.0))
        game.handle(MouseButton("left", True))
        host.tick([game])
        keys, mouse, clicks = game.header()[1][:3]
        assert "w" in keys and "up" in keys.lower() and clicks == "Clicks: left", game.header()
        assert game.frame().shape == (30, 50, 3)
        game.release_all()
        host.tick([game])
        assert game.header()[1][0] == "Keys  : -" and game.header()[1][2] == "Clicks: -"
        host.leave(game)
    assert list((tmp_path / "rec" / "dataset").glob("rec_wm_human/**/*.pt"))


def test_the_tick_thread_steps_with_the_hosts_cpu_threads(tiny_run, tmp_path, monkeypatch):
    """On CPU the games of small frames step with one core fewer than the machine has (at least 1), those of frames
    of 64 x 64 pixels or more with every core, or --threads. The model is prepared on the host's own thread, which
    the server ticks on with that count; joins run on one torch thread each (no second OpenMP team)."""
    import asyncio
    import types

    import torch

    from diamond_wm.cli.serve_sources import tick_threads
    from diamond_wm.serve.fake_game import FakeHost
    from diamond_wm.serve.server import GameServer, Limits

    monkeypatch.chdir(tmp_path)
    args = build_parser("serve").parse_args(["serve", str(tiny_run), "--device", "cpu"])
    host, _ = session_host(args)
    cores = len(os.sched_getaffinity(0))
    assert host.first.frame.shape[-1] * host.first.frame.shape[-2] < 64 * 64
    assert host.tick_threads == max(1, cores - 1) == tick_threads(args, host.first)
    large = types.SimpleNamespace(device=torch.device("cpu"), frame=torch.zeros(3, 64, 64))
    assert tick_threads(args, large) == cores
    args.threads = 3
    assert tick_threads(args, host.first) == 3 == tick_threads(args, large)

    seen = {}

    async def ask_threads(h) -> GameServer:
        server = GameServer(h, Limits(fps=30))
        loop = asyncio.get_running_loop()
        seen["tick"] = await loop.run_in_executor(server._tick_pool, torch.get_num_threads)
        seen["join"] = await loop.run_in_executor(server._join_pool, torch.get_num_threads)
        await server.stop(drain=0)
        return server

    server = asyncio.run(ask_threads(host))
    assert server._tick_pool is host.executor
    assert seen == {"tick": host.tick_threads, "join": 1}
    host.executor.shutdown()

    fake = FakeHost()  # no thread of its own: the server makes one with the host's count
    fake.tick_threads = 2
    asyncio.run(ask_threads(fake))
    assert seen == {"tick": 2, "join": 1}


def test_the_torch_thread_runs_work_in_order_and_hands_back_errors():
    import threading

    from diamond_wm.serve.session_host import TorchThread

    thread = TorchThread()
    names = [thread.submit(lambda: threading.current_thread().name) for _ in range(3)]
    assert [f.result(timeout=10) for f in names] == ["diamond-tick"] * 3
    order: list[int] = []
    futures = [thread.submit(order.append, k) for k in range(5)]
    for f in futures:
        f.result(timeout=10)
    assert order == [0, 1, 2, 3, 4]
    failing = thread.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(timeout=10)
    assert thread.submit(lambda: "still serving").result(timeout=10) == "still serving"
    thread.shutdown()
    with pytest.raises(RuntimeError, match="after shutdown"):
        thread.submit(lambda: None)
