"""What the processes (ranks) of a multi-process run share, and what each keeps of its own.

Shared: the schedule (rank 0's initial collection fixes it), the train dataset's index (broadcast before each
training phase; the episodes are read from rank 0's run folder), the weights (DistributedDataParallel), and one
`checkpoints/state.pt`, written by rank 0, that holds every rank's own random number generators and imagination
state. Each rank seeds `common.seed + rank`; rank 0's is the run's seed, so a one-process run is unchanged.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

import torch

from diamond_wm.config.errors import ConfigError
from diamond_wm.runtime.devices import resolve_devices
from diamond_wm.runtime.distributed import DistContext, weights_digest
from diamond_wm.runtime.seeding import draw_seed

log = logging.getLogger(__name__)


class RanksOutOfSyncError(RuntimeError):
    """The ranks of a run hold different weights: their updates were not the same."""


def process_device(devices_spec: Any, dist: DistContext) -> torch.device:
    """This process's device: its rank's (see `diamond_wm.runtime.distributed.rank_device`), or the one device
    `common.devices` names in a single process."""
    if dist.is_distributed:
        assert dist.device is not None
        return dist.device
    devices = resolve_devices(devices_spec)
    if len(devices) > 1:  # e.g. `all` on a machine with several GPUs, outside `diamond train`
        raise ConfigError(
            "common.devices",
            devices_spec,
            f"one device per process ({len(devices)} resolved): `diamond train` starts one process per GPU, or "
            "launch with torchrun",
        )
    return devices[0]


def shared_seed(seed: Optional[int], dist: DistContext) -> Optional[int]:
    """The run's seed on every rank: `seed`, or one drawn by rank 0 (None in a single process: drawn by the
    seeding, as before). Logs every rank's seed."""
    if not dist.is_distributed:
        return seed
    if seed is None:
        seed = dist.broadcast_object(draw_seed() if dist.is_main else None)
        log.info("seed: %d (drawn; pass common.seed=%d to repeat this run)", seed, seed)
    seeds = ", ".join(str(seed + r) for r in range(dist.world_size))
    log.info("%d processes: rank r seeds common.seed + r (%s)", dist.world_size, seeds)
    return seed


def rank_seed(seed: Optional[int], dist: DistContext) -> Optional[int]:
    """The seed of this rank's random streams: the run's seed + rank (None: to be drawn, in one process)."""
    return None if seed is None else seed + dist.rank


def gather_rank_states(dist: DistContext, own: dict[str, Any]) -> Optional[list[dict[str, Any]]]:
    """Every rank's `own` state (RNGs, imagination) on rank 0, for the checkpoint; None for one process."""
    if not dist.is_distributed:
        return None
    return dist.gather_objects(own)


def own_state(state: dict[str, Any], dist: DistContext) -> Optional[dict[str, Any]]:
    """This rank's part of a saved run state: its RNGs and imagination state, or None when the run was saved by
    fewer processes (this rank then starts its streams afresh from its seed)."""
    ranks = state.get("ranks")
    if ranks is None:  # saved by a single process: rank 0's state is the run's
        return {"rng": state["rng"], "rollout": state.get("rollout")} if dist.rank == 0 else None
    if dist.rank < len(ranks):
        return ranks[dist.rank]
    return None


def check_in_sync(dist: DistContext, state_dict: dict[str, Any], epoch: int) -> Optional[list[str]]:
    """The digests of every rank's weights (equal when the ranks are in step); raises `RanksOutOfSyncError`
    when they differ. None for one process."""
    if not dist.is_distributed:
        return None
    digests = dist.all_gather_objects(weights_digest(state_dict))
    if len(set(digests)) != 1:
        raise RanksOutOfSyncError(
            f"after epoch {epoch} the {dist.world_size} ranks hold different weights (digests {digests}): "
            "their updates diverged"
        )
    return digests
