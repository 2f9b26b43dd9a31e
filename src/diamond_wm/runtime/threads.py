"""Torch's CPU thread count, adapted to the cores other processes leave free.

Torch's CPU kernels run their parallel regions on OpenMP threads that wait for each other at every region's end.
When another process holds one of the cores, the thread being waited for is descheduled and the region takes as
long as the time slices it waits for: `make demo`'s networks ran 2.5-6x slower with two threads and one other
CPU-bound process on two cores, against 1.2x with one thread (docs/benchmarks.md, "Under load"). Waiting
passively instead of spinning (OMP_WAIT_POLICY=PASSIVE) halved the speed on a quiet machine, so what adapts is
the thread count: `ThreadGovernor` measures, from /proc/stat, the CPU time that processes other than this one used
since its last look, and runs torch on the cores they leave free (never more than the threads torch started
with, never fewer than one). Off Linux (no /proc/stat), or when the user set OMP_NUM_THREADS, it does nothing:
results depend on the thread count (the order of floating-point sums), so a run that must repeat bit for bit
pins it with OMP_NUM_THREADS.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Optional

import torch

log = logging.getLogger(__name__)

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_seconds_all_cpus() -> Optional[float]:
    """CPU seconds spent busy by every process since boot (all cores), from /proc/stat; None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    values = [int(x) for x in fields[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    guest = sum(values[8:10]) if len(values) > 9 else 0  # already counted in user/nice
    return (sum(values) - idle - guest) / _CLOCK_TICKS


def _own_cpu_seconds() -> float:
    """CPU seconds this process used (all its threads)."""
    return time.process_time()


class ThreadGovernor:
    """Sets `torch.set_num_threads` to the cores other processes leave free, re-measured at most every
    `min_interval_s` seconds when `adapt()` is called (e.g. between training updates)."""

    def __init__(self, max_threads: Optional[int] = None, min_interval_s: float = 2.0) -> None:
        self.max_threads = max(1, max_threads or torch.get_num_threads())
        self.min_interval_s = min_interval_s
        self.threads = torch.get_num_threads()
        # OMP_NUM_THREADS set by the user pins the count (runs repeat bit for bit only with the same count).
        self.enabled = _busy_seconds_all_cpus() is not None and "OMP_NUM_THREADS" not in os.environ
        self._last = self._sample()

    def _sample(self) -> tuple[float, float, float]:
        return time.monotonic(), _busy_seconds_all_cpus() or 0.0, _own_cpu_seconds()

    def others_cores(self) -> Optional[float]:
        """Cores used by other processes since the last measure (None when less than `min_interval_s` ago)."""
        if time.monotonic() - self._last[0] < self.min_interval_s:
            return None  # not due: no /proc read (this runs between every two training updates)
        now = self._sample()
        wall = max(now[0] - self._last[0], 1e-9)
        others = max(0.0, (now[1] - self._last[1]) - (now[2] - self._last[2])) / wall
        self._last = now
        return others

    def adapt(self) -> int:
        """Re-measure (if due) and set torch's thread count; returns the count in use."""
        if not self.enabled:
            return self.threads
        others = self.others_cores()
        if others is None:
            return self.threads
        cores = os.cpu_count() or 1
        threads = int(min(self.max_threads, max(1, round(cores - others))))
        if threads != self.threads:
            log.info(
                "other processes use %.1f of %d cores: torch now runs on %d thread%s (of %d)",
                others,
                cores,
                threads,
                "s" if threads > 1 else "",
                self.max_threads,
            )
            torch.set_num_threads(threads)
            self.threads = threads
        return threads

    def start(self, window_s: float = 0.3) -> int:
        """A first measure over a short window, before the first phase of work."""
        if not self.enabled:
            return self.threads
        self._last = self._sample()
        time.sleep(window_s)
        saved, self.min_interval_s = self.min_interval_s, 0.0
        try:
            return self.adapt()
        finally:
            self.min_interval_s = saved


def cpu_threads(device: torch.device, compiled: bool) -> Optional[ThreadGovernor]:
    """A training process's threads on CPU: malloc tuned for large activations (a ~2.5x faster training step)
    and a thread governor (as many torch threads as other processes leave cores free), which holds still in a
    compiled run (a compiled graph is specialised to torch's thread count: each change would compile every graph
    again); None on an accelerator."""
    if device.type != "cpu":
        return None
    from diamond_wm.runtime.memory import tune_malloc

    tune_malloc()
    governor = ThreadGovernor()
    if compiled and governor.enabled:
        governor.enabled = False
        log.info(
            "training.compile: torch keeps its %d CPU threads (compiled graphs are specialised to the thread "
            "count; OMP_NUM_THREADS sets it)",
            governor.threads,
        )
    return governor
