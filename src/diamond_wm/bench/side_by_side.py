"""Modes of one workload timed side by side: all built in one process, then rounds of calls of each mode in turn.

Separate `diamond bench` runs land in different minutes of a shared machine (10-20% apart on this project's CPU);
alternating rounds gives every mode the same conditions, so their ratios can be quoted.

    python -m diamond_wm.bench.side_by_side play_step --modes fp32 bf16 bf16+compile+freeze

A mode is a precision (fp32, bf16) optionally followed by +compile and +freeze.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.bench.runner import TIMED, Agents
from diamond_wm.bench.timing import time_calls
from diamond_wm.bench.workloads import BenchSettings
from diamond_wm.runtime.memory import tune_malloc
from diamond_wm.runtime.precision import PRECISIONS

OPTIONS = ("compile", "freeze", "cl")  # cl: channels-last convolution weights


def parse_mode(mode: str) -> dict[str, Any]:
    """'bf16+compile+freeze' -> BenchSettings keyword arguments; ValueError naming a bad mode."""
    precision, *options = mode.split("+")
    bad = [o for o in options if o not in OPTIONS]
    if precision not in PRECISIONS or bad or len(set(options)) != len(options):
        raise ValueError(
            f"bad mode {mode!r}: expected a precision ({', '.join(PRECISIONS)}) then optionally "
            f"{' and '.join('+' + o for o in OPTIONS)}, e.g. bf16+compile+freeze"
        )
    if "freeze" in options and "compile" not in options:
        raise ValueError(f"bad mode {mode!r}: +freeze needs +compile (it is an option of torch.compile)")
    return {
        "precision": precision,
        "compile": "compile" in options,
        "freeze": "freeze" in options,
        "channels_last": "cl" in options,
    }


def side_by_side(
    name: str,
    modes: Sequence[str],
    rounds: int = 8,
    calls: int = 5,
    warmup: int = 2,
    device: torch.device | str = "cpu",
    tiny: bool = False,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Seconds of every timed call of `name` in each mode, after `rounds` rounds of `calls` calls per mode."""
    if name not in TIMED:
        raise ValueError(f"unknown workload {name!r}: expected one of {list(TIMED)}")
    if rounds < 1 or calls < 1:
        raise ValueError(f"rounds and calls must be >= 1, got {rounds} and {calls}")
    settings = {m: BenchSettings(device=device, tiny=tiny, seed=seed, **parse_mode(m)) for m in modes}
    workloads = {}
    try:
        for mode, s in settings.items():
            agent_builder, builder = TIMED[name]
            workloads[mode] = builder(Agents(s).get(agent_builder), s)
            for _ in range(warmup):
                workloads[mode].fn()
        times: dict[str, list[float]] = {m: [] for m in modes}
        for _ in range(rounds):
            for mode, w in workloads.items():
                times[mode] += time_calls(w.fn, settings[mode].device, 0, calls).times
        return times
    finally:
        for w in workloads.values():
            w.close()


def format_side_by_side(name: str, times: dict[str, list[float]]) -> str:
    """Median, min and speed-up over the first mode, one line per mode."""
    first = statistics.median(next(iter(times.values())))
    lines = [f"{name}: {len(next(iter(times.values())))} calls per mode, in alternating rounds"]
    lines.append(f"{'mode':24s} {'median':>10s} {'min':>10s} {'speed-up':>9s}")
    for mode, t in times.items():
        med = statistics.median(t)
        lines.append(f"{mode:24s} {med * 1e3:8.1f} ms {min(t) * 1e3:8.1f} ms {first / med:8.2f}x")
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diamond_wm.bench.side_by_side", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("workload", choices=list(TIMED))
    parser.add_argument("--modes", nargs="+", default=["fp32", "bf16", "bf16+compile+freeze"])
    parser.add_argument("--rounds", type=int, default=8, help="rounds (default 8)")
    parser.add_argument("--calls", type=int, default=5, help="timed calls per mode and round (default 5)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed calls per mode first (default 2)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own choice)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda[:N]")
    parser.add_argument("--tiny", action="store_true", help="tiny networks on 16x16 frames (a smoke test)")
    parser.add_argument("--json", type=Path, help="write every call's seconds per mode to this file")
    args = parser.parse_args(argv)
    try:
        for mode in args.modes:
            parse_mode(mode)
        if args.threads is not None:
            if args.threads < 1:
                raise ValueError(f"--threads must be >= 1, got {args.threads}")
            torch.set_num_threads(args.threads)
        tune_malloc()
        times = side_by_side(
            args.workload, args.modes, args.rounds, args.calls, args.warmup, args.device, args.tiny
        )
    except ValueError as e:
        print(f"side_by_side: error: {e}", file=sys.stderr)
        return 2
    print(format_side_by_side(args.workload, times))
    if args.json is not None:
        args.json.write_text(json.dumps(times, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
