"""`diamond bench --distributed N`: the denoiser's training step in N processes (DistributedDataParallel, one GPU
each, NCCL; gloo on CPU) against the same step in one process, batch per process unchanged (as training does).

Each process times its own step (median of `repeats` after `warmup`); the N-process time is the slowest rank's
median (every rank waits for the all-reduce). Scaling efficiency = one process's time / N processes' time: 1.0
means N times the segments per second (weak scaling), less is the all-reduce's cost and any contention.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from diamond_wm.bench.timing import time_calls
from diamond_wm.bench.workloads import (
    BenchSettings,
    autocast,
    build_agent,
    component,
    img_shape,
    random_batch,
    trainer_config,
)
from diamond_wm.config.derived import denoiser_seq_length
from diamond_wm.models.agent import Agent
from diamond_wm.runtime.distributed import DistContext
from diamond_wm.training.component import train_component
from diamond_wm.training.objectives import DenoiserObjective

WORKLOAD = "denoiser_train_step"


def _rank(
    rank: int, world: int, settings: BenchSettings, warmup: int, repeats: int, threads: int, tmp: str
) -> None:
    """One process of the measurement: its device, the process group, its timed steps in `tmp`/rank.pt."""
    cuda = settings.device.type == "cuda"
    if cuda:
        device = torch.device(f"cuda:{rank}")
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
        torch.set_num_threads(threads)
    settings = dataclasses.replace(settings, device=device)
    if world > 1:
        dist.init_process_group(
            "nccl" if cuda else "gloo", init_method=f"file://{tmp}/rendezvous", rank=rank, world_size=world
        )
    try:
        step = _ddp_step(build_agent(settings), DistContext(rank, world, rank, device), settings)
        timing = time_calls(step, device, warmup, repeats)
        torch.save({"times": timing.times}, Path(tmp) / f"rank{rank}.pt")
    finally:
        if world > 1:
            dist.destroy_process_group()


def _ddp_step(agent: Agent, ctx: DistContext, settings: BenchSettings) -> Callable[[], None]:
    """The bench's denoiser update (`denoiser_train_step`: the same batch, objective, optimizer), its component
    wrapped in DDP over `ctx`'s ranks; each rank its own random segments."""
    cfg = trainer_config(agent)
    gen = torch.Generator().manual_seed(settings.seed + 1 + ctx.rank)
    batch = random_batch(settings.batch, denoiser_seq_length(cfg), img_shape(agent), gen, settings.device)
    objective = DenoiserObjective(agent.denoiser, cfg.denoiser.sigma_distribution)
    comp = component("denoiser", agent.denoiser, objective, batch, cfg)
    comp.wrap_ddp(ctx)

    def step() -> None:
        with autocast(settings):
            train_component(comp, steps=1, show_progress=False)

    return step


def _measure(world: int, settings: BenchSettings, warmup: int, repeats: int, threads: int) -> list[float]:
    """The slowest rank's step times in a run of `world` processes."""
    with tempfile.TemporaryDirectory(prefix="diamond-bench-ddp-") as tmp:
        mp.spawn(_rank, args=(world, settings, warmup, repeats, threads, tmp), nprocs=world, join=True)
        per_rank = [torch.load(Path(tmp) / f"rank{r}.pt", weights_only=True)["times"] for r in range(world)]
    return max(per_rank, key=lambda times: sorted(times)[len(times) // 2])


def run_distributed_bench(
    settings: BenchSettings, nproc: int, warmup: int, repeats: int, threads: int | None = None
) -> dict[str, Any]:
    """Time the denoiser training step in 1 and in `nproc` processes; the JSON-ready results. On CPU every process
    of both measurements gets `threads` torch threads (default: the cores shared by the `nproc` processes), so that
    the one-process baseline has one process's share."""
    if nproc < 2:
        raise ValueError(f"--distributed must be at least 2 processes, got {nproc}")
    if settings.device.type == "cuda" and nproc > torch.cuda.device_count():
        raise ValueError(
            f"--distributed {nproc}: this machine has {torch.cuda.device_count()} CUDA GPU(s), one per process"
        )
    threads = threads or max(1, (os.cpu_count() or 1) // nproc)
    one = _measure(1, settings, warmup, repeats, threads)
    many = _measure(nproc, settings, warmup, repeats, threads)
    t1, tn = statistics.median(one), statistics.median(many)
    key = f"ddp_{WORKLOAD}"
    return {
        f"{key}_backend": "nccl" if settings.device.type == "cuda" else "gloo",
        f"{key}_nproc": nproc,
        f"{key}_cpu_threads_per_process": threads if settings.device.type == "cpu" else None,
        f"{key}_batch_per_process": settings.batch,
        f"{key}_1proc_s": t1,
        f"{key}_1proc_times_s": one,
        f"{key}_{nproc}proc_s": tn,
        f"{key}_{nproc}proc_times_s": many,
        f"{key}_scaling_efficiency": t1 / tn,
        f"{key}_segments_per_s_1proc": settings.batch / t1,
        f"{key}_segments_per_s_{nproc}proc": nproc * settings.batch / tn,
    }


def format_distributed(results: dict[str, Any]) -> str:
    key = f"ddp_{WORKLOAD}"
    n = results[f"{key}_nproc"]
    b = results[f"{key}_batch_per_process"]
    return "\n".join(
        [
            f"{WORKLOAD}, batch {b} per process ({results[f'{key}_backend']}):",
            f"  1 process:   {results[f'{key}_1proc_s'] * 1000:.1f} ms per step, "
            f"{results[f'{key}_segments_per_s_1proc']:.1f} segments/s",
            f"  {n} processes: {results[f'{key}_{n}proc_s'] * 1000:.1f} ms per step, "
            f"{results[f'{key}_segments_per_s_{n}proc']:.1f} segments/s",
            f"  scaling efficiency: {results[f'{key}_scaling_efficiency']:.2f} (1.0: {n}x the segments per second)",
        ]
    )
