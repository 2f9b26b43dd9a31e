"""OpenMP's wait policy for the command line: training that slows in proportion to a busy machine's load.

Torch's CPU kernels run their parallel regions on OpenMP (libgomp) threads. By default a thread that has finished
its share spins for a while (GOMP_SPINCOUNT, up to 300 000 iterations) before sleeping, waiting for the others.
When other processes hold the cores, the thread being waited for is descheduled and the spinning ones burn the
time it needs: `make demo` ran 20-50x slower with one or two other CPU-bound processes. With the passive policy
waiting threads sleep at once (measured in docs/benchmarks.md, "Under load").

OpenMP reads these variables once, when torch loads it: `use_passive_openmp_wait()` must run before
`import torch`, which is why the entry points (`diamond`, `python -m diamond_wm.demo`) call it first. A value
the user set (OMP_WAIT_POLICY or GOMP_SPINCOUNT) is kept.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

WAIT_POLICY = {"OMP_WAIT_POLICY": "PASSIVE"}
_USER_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def use_passive_openmp_wait(environ: MutableMapping[str, str] | None = None) -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE unless the user chose a policy or torch is already loaded. True if set."""
    env = os.environ if environ is None else environ
    if any(k in env for k in _USER_KEYS):
        return False
    if environ is None and "torch" in sys.modules:  # too late: OpenMP has read its settings
        return False
    env.update(WAIT_POLICY)
    return True
