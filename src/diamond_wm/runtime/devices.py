"""Device choice from `common.devices`.

Accepted: null (first CUDA GPU, else MPS, else CPU), an int or a list of ints (CUDA indices), `cpu`, `mps`,
`cuda`, `cuda:N`, `all` (every CUDA GPU, else as null). Asking for a device the machine lacks is an error, never
a silent CPU run.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, Optional

import torch

from diamond_wm.runtime.errors import ConfigError

log = logging.getLogger(__name__)

ACCEPTED = "null, an int, a list of ints, 'cpu', 'mps', 'cuda', 'cuda:N' or 'all'"
_CUDA_RE = re.compile(r"^cuda(?::(\d+))?$")


def parse_devices(spec: Any, key: str = "common.devices") -> list[str]:
    """Normalise a device spec to a list of names ('auto', 'all', 'cpu', 'mps', 'cuda:N'); check syntax only."""
    if spec is None or spec == "auto":
        return ["auto"]
    if isinstance(spec, bool):
        raise ConfigError(key, spec, ACCEPTED)
    if isinstance(spec, int):
        if spec < 0:
            raise ConfigError(key, spec, ACCEPTED)
        return [f"cuda:{spec}"]
    if isinstance(spec, str):
        s = spec.strip().lower()
        if s.isdigit():
            return [f"cuda:{int(s)}"]
        if s in ("cpu", "mps", "all"):
            return [s]
        m = _CUDA_RE.match(s)
        if m:
            return [f"cuda:{int(m.group(1) or 0)}"]
        raise ConfigError(key, spec, ACCEPTED)
    if isinstance(spec, Sequence) and len(spec) > 0:
        names = []
        for item in spec:
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ConfigError(key, list(spec), ACCEPTED)
            names.append(f"cuda:{item}")
        return names
    raise ConfigError(key, spec, ACCEPTED)


def resolve_devices(
    spec: Any,
    cuda_count: Optional[int] = None,
    mps_available: Optional[bool] = None,
    key: str = "common.devices",
    announce: bool = True,
) -> list[torch.device]:
    """The devices a run uses, checked against what this machine has; logs the choice (unless `announce` is
    False: a caller that only counts them, before the run that uses them logs it)."""
    names = parse_devices(spec, key)
    if cuda_count is None:
        cuda_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if mps_available is None:
        mps_available = bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())

    if names == ["auto"] or (names == ["all"] and cuda_count == 0):
        if cuda_count > 0:
            devices = [torch.device("cuda:0")]
        elif mps_available:
            devices = [torch.device("mps")]
        else:
            devices = [torch.device("cpu")]
    elif names == ["all"]:
        devices = [torch.device(f"cuda:{i}") for i in range(cuda_count)]
    elif names == ["cpu"]:
        devices = [torch.device("cpu")]
    elif names == ["mps"]:
        if not mps_available:
            raise ConfigError(key, spec, "a device this machine has: MPS is not available here (try 'cpu')")
        devices = [torch.device("mps")]
    else:
        devices = [torch.device(n) for n in names]
        for d in devices:
            if d.index >= cuda_count:
                have = f"{cuda_count} CUDA GPU(s)" if cuda_count else "no CUDA GPU"
                raise ConfigError(key, spec, f"a device this machine has: it has {have} (try 'cpu' or null)")
    if announce:
        log.info("device: %s", ", ".join(str(d) for d in devices))
    return devices
