"""`diamond train` on several processes: started by torchrun, or starting torchrun itself for one machine.

- Under torchrun (RANK, WORLD_SIZE, LOCAL_RANK set) every process joins the process group before Hydra starts,
  and rank 0 tells the others the run folder (Hydra would give each process its own time-stamped one); the other
  ranks write nothing there (no `.hydra/` copy either).
- `common.devices=all` or a list of GPUs outside torchrun: `diamond train` runs torchrun for this machine
  (`--standalone`, one process per GPU) with the same arguments, and waits for it.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from diamond_wm.runtime.distributed import DistContext

log = logging.getLogger(__name__)


def _devices(spec: Any, announce: bool = True) -> list:
    from diamond_wm.runtime.devices import resolve_devices

    return resolve_devices(spec, announce=announce)


def launch_if_several_devices(devices_spec: Any, argv: Sequence[str], debug: bool = False) -> Optional[int]:
    """Outside torchrun, when `common.devices` names several GPUs: run `diamond ARGV` in one process per GPU
    through torchrun (this machine only) and return its exit code; None when one process does it all."""
    from diamond_wm.runtime.distributed import launched_by_torchrun

    if launched_by_torchrun():
        return None
    devices = _devices(devices_spec, announce=False)  # counted only: the run (or torchrun's) logs its device
    if len(devices) <= 1:
        return None
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={len(devices)}",
        "-m",
        "diamond_wm.cli",
        *(["--debug"] if debug else []),
        *argv,
    ]
    log.info("%d GPUs: one process each, through torchrun: %s", len(devices), " ".join(cmd))
    proc = subprocess.Popen(cmd)
    # torchrun stops its processes on SIGTERM (they save nothing more: the last checkpoint stays) and Ctrl-C
    # reaches them directly from the terminal; this process waits for them in both cases.
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: proc.send_signal(signal.SIGTERM))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:
                continue  # the processes got it too; wait for them to stop
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def process_group(devices_spec: Any) -> Iterator[DistContext]:
    """This process's place in a torchrun launch (the process group joined for the block, left at its end, also
    on an error or an interruption); the single-process context outside torchrun."""
    from diamond_wm.runtime.distributed import SINGLE, distributed_session, launched_by_torchrun

    if not launched_by_torchrun():
        yield SINGLE
        return
    with distributed_session(_devices(devices_spec)) as ctx:
        yield ctx


def shared_run_dir_overrides(ctx: DistContext, overrides: list[str], config_name: str) -> list[str]:
    """`overrides`, plus those that give every rank rank 0's run folder (and keep the others from writing
    there)."""
    if not ctx.is_distributed:
        return list(overrides)
    run_dir = None
    if ctx.is_main:
        run_dir = str(Path(_hydra_run_dir(overrides, config_name)).resolve())
    run_dir = ctx.broadcast_object(run_dir)
    extra = [f"hydra.run.dir={run_dir}"]
    if not ctx.is_main:
        extra.append("hydra.output_subdir=null")
    return [o for o in overrides if not o.startswith("hydra.run.dir=")] + extra


def _hydra_run_dir(overrides: list[str], config_name: str) -> str:
    """The run folder Hydra would make for these overrides (its `hydra.run.dir`, time stamp resolved now)."""
    from hydra import compose, initialize_config_module
    from hydra.core.global_hydra import GlobalHydra
    from hydra.core.utils import setup_globals
    from omegaconf import OmegaConf

    from diamond_wm.config.compose import PRESETS_MODULE, register_configs

    register_configs()
    setup_globals()  # the `now` resolver
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=PRESETS_MODULE, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides), return_hydra_config=True)
        return str(OmegaConf.select(cfg, "hydra.run.dir"))
    finally:
        GlobalHydra.instance().clear()
