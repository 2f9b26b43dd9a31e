"""Load test of `diamond serve` on loopback: N simulated players connected to a real server in this process.

    python scripts/serve_load.py RUN_DIR [--fast] [--players 1,2,4,8,16] [--seconds 10] [--json OUT]
    python scripts/serve_load.py --paper-atari [--fast] ...   # the paper's Atari networks, random weights
    python scripts/serve_load.py --paper-atari --fast --device cuda ...   # served and timed on the GPU

For each N the server (uvicorn + the game server, frame cap off) serves N WebSocket clients that press and release
a key every 0.2 s and read every frame; after `--warmup` seconds it measures for `--seconds`: each player's frames
per second, the aggregate, the step-to-screen latency (from the start of the tick that made a frame to its arrival
at the client, p50 and p95), the process's resident memory, and the mean batch of the ticks. Then the same N games
are stepped one after another at batch 1 (`session.update()` each) in this process for as long: the batching gain
is the server's aggregate frames per second over that one's. With `--paper-atari --fast` it also times one
`play_step` of `diamond bench` in the same mode (bf16 where native, compiled, frozen), the rate one player could
reach with no server at all.

Loopback only, bounded in players and time. Prints one table; `--json` writes the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import torch
from websockets.asyncio.client import connect

from diamond_wm.cli.serve import add_arguments
from diamond_wm.cli.serve_sources import load_sources, tick_threads
from diamond_wm.interactive.batch import batch_buckets, warm_up_session
from diamond_wm.interactive.launch import compile_for_play
from diamond_wm.runtime.cpu import cpu_capability, cpu_has_native_bf16, cpu_model
from diamond_wm.runtime.precision import default_precision
from diamond_wm.serve.protocol import PROTOCOL_VERSION, split_frame_message
from diamond_wm.serve.run import bind, build_uvicorn
from diamond_wm.serve.server import Limits, set_torch_threads
from diamond_wm.serve.session_host import SessionHost, TorchThread

MAX_PLAYERS = 16
MAX_SECONDS = 60.0


def rss_mb() -> float:
    """Resident memory of this process (server and clients), MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def paper_atari_checkpoint(folder: Path) -> Path:
    """The paper's Atari networks (4 actions, Breakout) with the bench's random weights, saved as a checkpoint."""
    from diamond_wm.bench.workloads import BenchSettings, build_agent
    from diamond_wm.models.checkpoint import save_agent

    return save_agent(folder / "paper_atari.pt", build_agent(BenchSettings()))


def serve_arguments(args: argparse.Namespace, folder: Path) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    if args.paper_atari:
        model = ["--checkpoint", str(paper_atari_checkpoint(folder)), "--env-id", "BreakoutNoFrameskip-v4"]
    else:
        model = [str(args.run)]
    threads = ["--threads", str(args.threads)] if args.threads else []
    fast = ["--fast"] if args.fast else []
    device = ["--device", args.device] if args.device else []
    return parser.parse_args([*model, *fast, *threads, *device, "--max-players", str(MAX_PLAYERS)])


def players(url: str, n: int, warmup: float, seconds: float, send: Any) -> None:
    """The players' process: n players join; once every one has its first frame and `warmup` seconds more have
    passed, the measured window starts (its start time sent back first), then the results."""
    results: list[dict[str, Any]] = [{} for _ in range(n)]

    async def everyone() -> None:
        first_frames = asyncio.Barrier(n + 1)
        window: dict[str, float] = {}
        tasks = [asyncio.create_task(player(url, first_frames, window, r)) for r in results]
        await first_frames.wait()  # every player is in the game
        await asyncio.sleep(warmup)
        window["from"] = time.time()
        send.send(("measuring", window["from"]))
        window["until"] = window["from"] + seconds
        await asyncio.gather(*tasks)

    asyncio.run(everyone())
    send.send(("results", results))


async def player(
    url: str, first_frame: asyncio.Barrier, window: dict[str, float], out: dict[str, Any]
) -> None:
    """One simulated player: hello, then read every frame; a key pressed or released every 0.2 s. Frames count
    from `window["from"]` to `window["until"]`."""
    frames, latencies, joined = 0, [], False
    async with connect(url, max_size=2**22, open_timeout=600) as ws:
        await ws.send(json.dumps({"type": "hello", "version": PROTOCOL_VERSION, "resume": None}))
        next_key, down = 0.0, False
        while time.time() < window.get("until", float("inf")):
            with contextlib.suppress(asyncio.TimeoutError):
                message = await asyncio.wait_for(ws.recv(), timeout=0.2)
                if isinstance(message, bytes):
                    if not joined:
                        joined = True
                        asyncio.create_task(first_frame.wait())
                    meta, _ = split_frame_message(message)
                    now = time.time()
                    if window.get("from", float("inf")) <= now < window.get("until", float("inf")):
                        frames += 1
                        latencies.append(now - meta["t"])
            if time.time() >= next_key:
                kind = "key_up" if down else "key_down"
                await ws.send(json.dumps({"type": "input", "input": {kind: "d"}}))
                down, next_key = not down, time.time() + 0.2
    out["frames"], out["latencies"] = frames, latencies


def serve_round(
    sources: Any, buckets: tuple[int, ...], threads: Any, n: int, warmup: float, seconds: float, executor: Any
) -> dict[str, Any]:
    host = SessionHost(sources.make, sources.action_spec, None, buckets, threads, executor)
    sock = bind("127.0.0.1", 0)
    server, game_server = build_uvicorn(host, Limits(fps=1000.0, max_players=n, idle_timeout=600), sock, None)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    url = f"ws://127.0.0.1:{sock.getsockname()[1]}/ws"
    # The players run in a process of their own: their Python work does not hold this process's interpreter lock.
    receive, send = multiprocessing.get_context("spawn").Pipe(duplex=False)
    clients = multiprocessing.get_context("spawn").Process(
        target=players, args=(url, n, warmup, seconds, send)
    )
    clients.start()
    kind, measure_from = receive.recv()
    assert kind == "measuring"
    ticks0, batch0, tick_s0 = game_server.ticks, game_server.batch_sum, game_server.tick_s_sum
    time.sleep(max(0.0, measure_from + seconds - time.time()))
    ticks, batches = game_server.ticks - ticks0, game_server.batch_sum - batch0
    tick_s = game_server.tick_s_sum - tick_s0
    kind, results = receive.recv()
    clients.join(timeout=60)
    memory = rss_mb()
    server.should_exit = True
    thread.join(timeout=60)
    fps = [r["frames"] / seconds for r in results]
    latencies = sorted(x for r in results for x in r["latencies"])
    q = statistics.quantiles(latencies, n=20) if len(latencies) >= 2 else [float("nan")] * 19
    return {
        "players": n,
        "fps_per_player_min": min(fps),
        "fps_per_player_mean": statistics.fmean(fps),
        "fps_aggregate": sum(fps),
        "latency_p50_ms": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "latency_p95_ms": q[18] * 1000,
        "rss_mb": memory,
        "mean_batch": batches / ticks if ticks else float("nan"),
        "tick_ms": tick_s / ticks * 1000 if ticks else float("nan"),
        "ticks_per_s": ticks / seconds,
    }


def one_after_another(sources: Any, n: int, seconds: float) -> float:
    """Frames per second of n games stepped one after another at batch 1 in this process."""
    sessions = [sources.make(1000 + k) for k in range(n)]
    for s in sessions:
        s.update()
    frames, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for s in sessions:
            s.update()
            frames += 1
    return frames / (time.perf_counter() - start)


def play_step_rate(device: torch.device, threads: int, repeats: int = 5) -> float:
    """1 / (median time of `diamond bench`'s play_step on `device` in bf16 where native + compile + freezing),
    with torch on `threads` CPU threads (compiled for that count)."""
    from diamond_wm.bench.workloads import BUILDERS, BenchSettings, build_agent

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    settings = BenchSettings(device=device, precision=default_precision(device), compile=True, freeze=True)
    agent = build_agent(settings)
    work = BUILDERS["play_step"](agent, settings)  # steps under its own inference mode and autocast
    times = []
    for i in range(repeats + 2):  # the first calls compile
        start = time.perf_counter()
        work.fn()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= 2:
            times.append(time.perf_counter() - start)
    work.close()
    torch.set_num_threads(before)
    return 1 / statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("run", nargs="?", type=Path, help="a run folder (e.g. outputs/demo of make demo)")
    parser.add_argument(
        "--paper-atari", action="store_true", help="the paper's Atari networks, random weights"
    )
    parser.add_argument("--fast", action="store_true", help="as diamond serve --fast")
    parser.add_argument("--players", default="1,2,4,8,16", help="comma-separated player counts (at most 16)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per count (at most 60)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--threads", type=int, default=None, help="as diamond serve --threads")
    parser.add_argument("--device", default=None, help="as diamond serve --device (default: best available)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    counts = [int(x) for x in args.players.split(",")]
    if (args.run is not None) == args.paper_atari or not all(1 <= n <= MAX_PLAYERS for n in counts):
        parser.error(f"give a run folder or --paper-atari, and player counts from 1 to {MAX_PLAYERS}")
    if not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--seconds {args.seconds}: expected more than 0 and at most {MAX_SECONDS:g}")
    work = Path(tempfile.mkdtemp(prefix="serve_load_"))
    if args.run is not None:
        args.run = args.run.resolve()
    os.chdir(work)  # the initial contexts a checkpoint collects are kept in the current folder

    def prepare() -> tuple[Any, tuple[int, ...], Any, Any]:
        serve_args = serve_arguments(args, work)
        sources = load_sources(serve_args)
        buckets: tuple[int, ...] = ()
        first = sources.make(0)
        first.update()
        threads = tick_threads(serve_args, first)
        set_torch_threads(threads)  # as diamond serve: compiled for the tick's thread count
        if sources.compile:
            buckets = batch_buckets(max(counts))
            compile_for_play(first, sources.agent)
            warm_up_session(first, buckets)
        return sources, buckets, threads, first

    # As in diamond serve, all of the server's torch work runs on one thread (`TorchThread`), the ticks and the
    # steps one after another included.
    executor = TorchThread()
    sources, buckets, threads, first = executor.submit(prepare).result()
    rows = []
    for n in counts:
        row = serve_round(sources, buckets, threads, n, args.warmup, args.seconds, executor)
        row["fps_one_after_another"] = executor.submit(one_after_another, sources, n, args.seconds).result()
        row["batching_gain"] = row["fps_aggregate"] / row["fps_one_after_another"]
        rows.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    report: dict[str, Any] = {
        "model": "paper-size Atari (random weights)" if args.paper_atari else str(args.run),
        "fast": args.fast,
        "machine": {"cpu": cpu_model(), "kernels": cpu_capability(), "bf16_native": cpu_has_native_bf16()},
        "device": str(first.device),
        "precision": first.precision,
        "threads": executor.submit(torch.get_num_threads).result(),  # ticks and one after another
        "tick_threads": threads,
        "seconds": args.seconds,
        "rows": rows,
    }
    if args.paper_atari and args.fast:
        # The yardstick of one player: the play step alone at its fastest thread count on this machine.
        counts_ = (
            sorted({1, os.cpu_count() or 1}) if first.device.type == "cpu" else [torch.get_num_threads()]
        )
        rates = {n: executor.submit(play_step_rate, first.device, n).result() for n in counts_}
        report["play_step_fast_fps_by_threads"] = rates
        report["play_step_fast_fps"] = max(rates.values())
    keys = ["players", "fps_per_player_min", "fps_per_player_mean", "fps_aggregate", "latency_p50_ms"]
    keys += ["latency_p95_ms", "rss_mb", "mean_batch", "fps_one_after_another", "batching_gain"]
    print(" | ".join(keys))
    for row in rows:
        print(" | ".join(f"{row[k]:.3g}" if isinstance(row[k], float) else str(row[k]) for k in keys))
    if "play_step_fast_fps" in report:
        by = ", ".join(f"{v:.3g} on {n} threads" for n, v in report["play_step_fast_fps_by_threads"].items())
        print(f"play_step (bench, same mode): {by}")
        one = rows[0] if rows[0]["players"] == 1 else None
        if one is not None:
            print(f"one player / play_step: {one['fps_per_player_mean'] / report['play_step_fast_fps']:.2f}")
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
