"""One GPU per job of a sweep whose jobs run side by side on one machine (`diamond train -m` with the joblib
launcher), rather than every job on the first GPU.

Job k takes GPU k mod n (of n GPUs) when no other job of this user on the machine holds it, else the next free
one; each job holds its GPU with a lock file (`flock`, released when the job ends or its process dies) for as long
as it runs. So no two jobs share a GPU while there are no more jobs running than GPUs; beyond that, job k shares
GPU k mod n, and says so. A job whose `common.devices` is set keeps it; with fewer than two GPUs nothing changes.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any, Optional

log = logging.getLogger(__name__)


def gpu_for_job(job_num: int, num_gpus: int, busy: Collection[int] = ()) -> Optional[int]:
    """The GPU of job `job_num` among `num_gpus`: the first of k mod n, k mod n + 1, ... (cyclically) not in
    `busy`, or k mod n when all are; None with fewer than two GPUs (the run's own device choice stands)."""
    if isinstance(job_num, bool) or not isinstance(job_num, int) or job_num < 0:
        raise ValueError(f"job number must be an integer >= 0, got {job_num!r}")
    if isinstance(num_gpus, bool) or not isinstance(num_gpus, int) or num_gpus < 0:
        raise ValueError(f"GPU count must be an integer >= 0, got {num_gpus!r}")
    if num_gpus < 2:
        return None
    first = job_num % num_gpus
    for step in range(num_gpus):
        gpu = (first + step) % num_gpus
        if gpu not in busy:
            return gpu
    return first


def default_lock_dir() -> Path:
    """Where the jobs of this user on this machine hold their GPUs (one lock file per GPU)."""
    return Path(tempfile.gettempdir()) / f"diamond-wm-gpus-{os.getuid()}"


def _try_lock(path: Path) -> Optional[int]:
    """An open descriptor of `path` holding its exclusive lock, or None when another holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


@contextlib.contextmanager
def claimed_gpu(job_num: int, num_gpus: int, lock_dir: Optional[Path] = None) -> Iterator[Optional[int]]:
    """The GPU job `job_num` runs on (`gpu_for_job`, the busy GPUs being those whose lock another job holds),
    held for the block; None with fewer than two GPUs."""
    if gpu_for_job(job_num, num_gpus) is None:
        yield None
        return
    folder = lock_dir if lock_dir is not None else default_lock_dir()
    folder.mkdir(parents=True, exist_ok=True)
    busy: set[int] = set()
    held: Optional[int] = None
    gpu = gpu_for_job(job_num, num_gpus)
    while gpu is not None and gpu not in busy:
        held = _try_lock(folder / f"gpu{gpu}.lock")
        if held is not None:
            break
        busy.add(gpu)
        gpu = gpu_for_job(job_num, num_gpus, busy)
    if held is None:
        log.warning(
            "sweep job %d: all %d GPUs are held by other jobs: it shares GPU %d (run at most %d jobs at once, "
            "e.g. hydra.launcher.n_jobs=%d)",
            job_num,
            num_gpus,
            gpu,
            num_gpus,
            num_gpus,
        )
    try:
        yield gpu
    finally:
        if held is not None:
            os.close(held)  # releases the lock


@contextlib.contextmanager
def job_devices(devices: Any, job_num: int) -> Iterator[Any]:
    """`common.devices` of job `job_num` of a sweep, for the block: `devices` when set; unset (the first GPU), the
    job's own GPU (`claimed_gpu`) on a machine with several."""
    if devices is not None and devices != "auto":
        yield devices
        return
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with claimed_gpu(job_num, count) as gpu:
        if gpu is not None:
            log.info("sweep job %d: GPU %d of %d", job_num, gpu, count)
        yield devices if gpu is None else gpu
