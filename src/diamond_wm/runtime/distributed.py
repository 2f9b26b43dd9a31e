"""One training over several processes: the process group of a `torchrun` launch, and its few collectives.

`torchrun` (or `diamond train common.devices=all`, which starts it for one machine) sets RANK, WORLD_SIZE,
LOCAL_RANK and the rendezvous address in each process's environment. `init_distributed` reads them, joins the
process group (NCCL between CUDA GPUs, gloo on CPU) and returns the process's `DistContext`; without them it
returns the single-process context, whose collectives do nothing, so that code needs no rank checks beyond
`is_main`.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Optional

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# Rank 0 alone collects, evaluates and plays the final test episodes while the others wait in a collective: the
# paper's final evaluation (100 episodes) can take long, so the group's timeout is generous.
COLLECTIVE_TIMEOUT = datetime.timedelta(hours=6)


@dataclass(frozen=True)
class DistContext:
    """Where this process stands in the run: its rank among `world_size` processes, its device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: Optional[torch.device] = None  # None: the single process chooses from common.devices

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run folder, collects, evaluates and logs."""
        return self.rank == 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.is_distributed:
            dist.barrier()

    def broadcast_object(self, obj: Any, src: int = 0) -> Any:
        """`obj` of rank `src`, on every rank (picklable objects; tensors are sent to the CPU first)."""
        if not self.is_distributed:
            return obj
        box = [to_cpu(obj) if self.rank == src else None]
        dist.broadcast_object_list(box, src=src)
        return box[0]

    def gather_objects(self, obj: Any) -> Optional[list[Any]]:
        """Every rank's `obj` (in rank order) on rank 0, None on the others."""
        if not self.is_distributed:
            return [obj]
        out: Optional[list[Any]] = [None] * self.world_size if self.is_main else None
        dist.gather_object(to_cpu(obj), out, dst=0)
        return out

    def all_gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's `obj` (in rank order) on every rank."""
        if not self.is_distributed:
            return [obj]
        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, to_cpu(obj))
        return out

    def mean_(self, tensor: torch.Tensor) -> torch.Tensor:
        """Average `tensor` over the ranks, in place (a no-op for one process)."""
        if self.is_distributed:
            dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
            tensor /= self.world_size
        return tensor


SINGLE = DistContext()
_current: DistContext = SINGLE


def current() -> DistContext:
    """The context of this process (single-process unless `init_distributed` joined a group)."""
    return _current


def launched_by_torchrun(environ: Optional[dict[str, str]] = None) -> bool:
    """True in a process started by torchrun (RANK, WORLD_SIZE and LOCAL_RANK set)."""
    env = os.environ if environ is None else environ
    return all(k in env for k in TORCHRUN_VARS)


def _env_int(name: str, environ: dict[str, str]) -> int:
    value = environ[name]
    try:
        return int(value)
    except ValueError:
        raise ValueError(
            f"environment variable {name}={value!r}: expected an integer (set by torchrun)"
        ) from None


def rank_device(devices: list[torch.device], local_rank: int, local_world_size: int) -> torch.device:
    """The device of the process of local rank `local_rank` among `local_world_size` on its machine, from the
    devices `common.devices` resolved to: the CPU for every rank; with one CUDA GPU named (or none, the default)
    GPU `local_rank`; with a list of GPUs the `local_rank`-th (the list must hold one per local process)."""
    if devices[0].type != "cuda":
        if devices[0].type == "mps" and local_world_size > 1:
            raise ValueError(
                "common.devices=mps: one MPS device cannot be shared by several processes; use cpu"
            )
        return torch.device("cpu")
    if len(devices) == 1:
        count = torch.cuda.device_count()
        if local_rank >= count:
            raise ValueError(
                f"{local_world_size} processes on this machine but {count} CUDA GPU(s): one GPU per process "
                "(torchrun --nproc-per-node at most the number of GPUs)"
            )
        return torch.device(f"cuda:{local_rank}")
    if len(devices) < local_world_size:
        names = ",".join(str(d.index) for d in devices)
        raise ValueError(
            f"common.devices=[{names}] names {len(devices)} GPUs for {local_world_size} processes on this "
            "machine: name one GPU per process"
        )
    return devices[local_rank]


def init_distributed(devices: list[torch.device], environ: Optional[dict[str, str]] = None) -> DistContext:
    """Join the process group of a torchrun launch (no-op without one, or with a world of 1) and return this
    process's context; `devices` are those `common.devices` resolved to (see `rank_device`)."""
    global _current
    env = dict(os.environ if environ is None else environ)
    if not launched_by_torchrun(env) or _env_int("WORLD_SIZE", env) == 1:
        return SINGLE
    if dist.is_initialized():
        return _current
    rank, world = _env_int("RANK", env), _env_int("WORLD_SIZE", env)
    local_rank = _env_int("LOCAL_RANK", env)
    local_world = int(env.get("LOCAL_WORLD_SIZE", world))
    device = rank_device(devices, local_rank, local_world)
    if device.type == "cuda":
        torch.cuda.set_device(device)  # NCCL's objects (and broadcast_object_list's tensors) go to this GPU
        backend = "nccl"
    else:
        backend = "gloo"
    dist.init_process_group(backend=backend, timeout=COLLECTIVE_TIMEOUT)
    _current = DistContext(rank, world, local_rank, device)
    if rank != 0:  # the other ranks say only what goes wrong: rank 0 speaks for the run
        logging.getLogger().setLevel(logging.WARNING)
    log.info("process group: %d processes (%s), rank %d on %s", world, backend, rank, device)
    return _current


def destroy_distributed() -> None:
    """Leave the process group (safe to call when none was joined, or twice)."""
    global _current
    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception as err:  # pragma: no cover - an interrupted peer: nothing more to clean
            log.debug("destroy_process_group: %s", err)
    _current = SINGLE


@contextlib.contextmanager
def distributed_session(devices: list[torch.device]) -> Iterator[DistContext]:
    """`init_distributed` for the block; the group is left at its end, also on an error or an interruption."""
    ctx = init_distributed(devices)
    try:
        yield ctx
    finally:
        destroy_distributed()


def to_cpu(obj: Any) -> Any:
    """`obj` with every tensor it holds (in dicts, lists, tuples) moved to the CPU, for pickling between ranks."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
        return type(obj)(to_cpu(v) for v in obj)
    return obj


_INT_OF_SIZE = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


@torch.no_grad()
def weights_digest(state_dict: dict[str, torch.Tensor]) -> str:
    """A digest of the exact bits of every tensor of `state_dict` (on its own device: no copy of the weights).

    Integer sums of the bit patterns are exact and do not depend on the order of summation, so ranks holding
    identical weights get identical digests on any hardware, and any differing bit changes it (with
    overwhelming probability: sums plus position-weighted sums, hashed)."""
    import hashlib

    h = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach()
        if t.dtype == torch.bool:
            t = t.to(torch.uint8)
        bits = t.contiguous().view(-1).view(_INT_OF_SIZE[t.element_size()]).long()
        pos = torch.arange(1, bits.numel() + 1, device=bits.device, dtype=torch.long)
        sums = torch.stack([bits.sum(), (bits * pos).sum()]).cpu()
        h.update(name.encode())
        h.update(sums.numpy().tobytes())
    return h.hexdigest()[:16]
