"""Capture and restore the random number generators of a run, in a form `torch.load(weights_only=True)` reads.

Each process keeps the CUDA generator of its own device only (`cuda_device`): in a multi-process run every rank
has every GPU of its machine visible, and the generators of the other ranks' GPUs are theirs to keep.
"""

from __future__ import annotations

import logging
import random
from typing import Any, Optional

import numpy as np
import torch

log = logging.getLogger(__name__)


def cuda_device(device: torch.device | str | None = None) -> Optional[torch.device]:
    """The CUDA device whose generator a process keeps: `device` when it is a CUDA device (`cuda` alone: the
    current one), none for another device; with no `device`, the current CUDA device when CUDA is available."""
    if device is None:
        return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else None
    device = torch.device(device)
    if device.type != "cuda":
        return None
    return device if device.index is not None else torch.device("cuda", torch.cuda.current_device())


def capture_rng_state(
    generators: dict[str, torch.Generator] | None = None, device: torch.device | str | None = None
) -> dict[str, Any]:
    """Python, NumPy (legacy global) and torch RNG states, any named `torch.Generator`s, and under "cuda" the state
    of the CUDA generator of `device` (see `cuda_device`; absent when there is none)."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
    }
    cuda = cuda_device(device)
    if cuda is not None:
        state["cuda"] = torch.cuda.get_rng_state(cuda)
    return state


def restore_rng_state(
    state: dict[str, Any],
    generators: dict[str, torch.Generator] | None = None,
    device: torch.device | str | None = None,
) -> None:
    """Inverse of `capture_rng_state`: the CUDA generator restored is `device`'s (see `cuda_device`).

    A state holds one CUDA generator state, or a list of them, one per visible GPU, as earlier versions saved
    (`torch.cuda.get_rng_state_all()`): of a list, the entry at the index of `device` is restored (the only
    entry of a list of one); a list too short for that index leaves the CUDA generator as seeded, with a
    warning."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    cuda = cuda_device(device) if torch.cuda.is_available() else None
    saved = own_cuda_state(state.get("cuda"), cuda.index) if cuda is not None else None
    if saved is not None:
        torch.cuda.set_rng_state(saved, cuda)
    for k, g in (generators or {}).items():
        if k in state["generators"]:
            g.set_state(state["generators"][k])


def own_cuda_state(saved: Any, index: int) -> Optional[torch.Tensor]:
    """The CUDA generator state of device `index` in a saved "cuda" entry: the entry itself (one state), or of a
    list (one state per visible GPU) its `index`-th entry, the only one of a list of one; None without one."""
    if saved is None or isinstance(saved, torch.Tensor):
        return saved
    states = list(saved)
    if len(states) == 1:
        return states[0]
    if index < len(states):
        return states[index]
    log.warning(
        "the saved CUDA generator states cover %d GPUs, not cuda:%d: its generator is not restored",
        len(states),
        index,
    )
    return None
