"""The thread governor: torch's thread count follows the cores other processes leave free."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import torch

import diamond_wm.runtime.threads as threads
from diamond_wm.runtime.threads import ThreadGovernor


@pytest.fixture
def restore_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


def _governor(monkeypatch, cores: int, max_threads: int) -> ThreadGovernor:
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: cores)
    return ThreadGovernor(max_threads=max_threads, min_interval_s=0.0)


def test_threads_follow_the_free_cores(monkeypatch, restore_threads):
    clock = {"t": 0.0, "busy": 0.0, "own": 0.0}
    monkeypatch.setattr(threads.time, "monotonic", lambda: clock["t"])
    monkeypatch.setattr(threads, "_busy_seconds_all_cpus", lambda: clock["busy"])
    monkeypatch.setattr(threads, "_own_cpu_seconds", lambda: clock["own"])
    gov = _governor(monkeypatch, cores=2, max_threads=2)

    def second(own: float, others: float) -> int:  # one second in which we used `own`, others `others` cores
        clock["t"] += 1.0
        clock["own"] += own
        clock["busy"] += own + others
        return gov.adapt()

    assert second(own=1.9, others=0.05) == 2  # a quiet machine: both cores
    assert second(own=1.3, others=0.7) == 1 and torch.get_num_threads() == 1  # one other busy process
    assert second(own=0.7, others=1.3) == 1  # two: never fewer than one
    assert second(own=1.0, others=0.0) == 2 and torch.get_num_threads() == 2  # the others stopped


def test_a_real_busy_process_is_seen(monkeypatch, restore_threads):
    if threads._busy_seconds_all_cpus() is None:
        pytest.skip("no /proc/stat")
    gov = _governor(monkeypatch, cores=2, max_threads=2)
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        gov.min_interval_s = 1.0
        gov._last = gov._sample()
        time.sleep(1.2)
        others = gov.others_cores()
    finally:
        busy.kill()
    assert others is not None and 0.7 <= others <= 2.05  # the spinning process: about one core


def test_omp_num_threads_pins_the_count(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert not ThreadGovernor().enabled
