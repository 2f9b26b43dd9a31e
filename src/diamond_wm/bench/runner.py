"""`run_bench`: builds the workloads, counts their FLOPs, times them, measures the matmul peak and the PSNRs."""

from __future__ import annotations

import contextlib
import logging
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Optional

import torch

from diamond_wm.bench.csgo import CSGO_BUILDERS, CSGO_PSNR_PRESETS, build_csgo_agent, csgo_psnr, fp32_eager
from diamond_wm.bench.datasets import DATASET_NAMES, run_dataset_workloads
from diamond_wm.bench.flops import count_flops, matmul_peak_flops
from diamond_wm.bench.psnr import bf16_one_step_psnr, bf16_rollout_psnr
from diamond_wm.bench.timing import peak_rss_bytes, time_calls
from diamond_wm.bench.workloads import BUILDERS, BenchSettings, Workload, build_agent
from diamond_wm.models.agent import Agent
from diamond_wm.runtime.cpu import cpu_capability, cpu_model
from diamond_wm.runtime.precision import bf16_is_native, tf32_matmul

log = logging.getLogger(__name__)

AgentBuilder = Callable[[BenchSettings], Agent]
# Every timed workload: (the agent it runs on, its builder). Atari workloads share the paper's Atari agent, CS:GO
# ones the CS:GO world model; each agent is built once, and only when a selected workload needs it.
TIMED: dict[str, tuple[AgentBuilder, Callable[[Agent, BenchSettings], Workload]]] = {
    **{name: (build_agent, fn) for name, fn in BUILDERS.items()},
    **{name: (build_csgo_agent, fn) for name, fn in CSGO_BUILDERS.items()},
}
TIMED_NAMES = tuple(TIMED)
PSNR_NAME = "psnr_bf16_50_steps"
PSNR_NAMES = (PSNR_NAME, *CSGO_PSNR_PRESETS)
ALL_NAMES = (*TIMED_NAMES, *PSNR_NAMES, *DATASET_NAMES)
# Without --only: all but the higher-quality CS:GO PSNR (150 higher-quality frames of 13 U-Net passes each: ~25 min
# at paper size on 2 CPU cores); it runs when named.
DEFAULT_NAMES = tuple(name for name in ALL_NAMES if name != "psnr_csgo_hq_50_steps")


class Agents:
    """The bench's agents, each built on first use for the settings (random seeded weights)."""

    def __init__(self, settings: BenchSettings) -> None:
        self.settings = settings
        self._built: dict[AgentBuilder, Agent] = {}

    def get(self, builder: AgentBuilder) -> Agent:
        if builder not in self._built:
            self._built[builder] = builder(self.settings)
        return self._built[builder]


@contextlib.contextmanager
def built(name: str, agents: Agents) -> Iterator[Workload]:
    """The timed workload `name` on its agent, closed on exit."""
    agent_builder, builder = TIMED[name]
    workload = builder(agents.get(agent_builder), agents.settings)
    try:
        yield workload
    finally:
        workload.close()


def cpu_fields() -> dict[str, Any]:
    """What every result records of the CPU: model, torch's kernel capability, whether bf16 is native."""
    return {
        "cpu_model": cpu_model(),
        "cpu_capability": cpu_capability(),
        "cpu_bf16_native": bf16_is_native("cpu"),
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def parse_only(only: Optional[str]) -> list[str]:
    """Names selected by `--only a,b` (DEFAULT_NAMES when None); ValueError naming an unknown one."""
    if not only:
        return list(DEFAULT_NAMES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}: expected names among {list(ALL_NAMES)}")
    return names


def run_bench(
    settings: BenchSettings,
    names: Sequence[str] = DEFAULT_NAMES,
    warmup: int = 1,
    repeats: int = 3,
    psnr_steps: int = 50,
) -> dict[str, Any]:
    """Median seconds per call (after `warmup` calls and one FLOP-counting call) of each named workload, with FLOPs and achieved fraction of
    the measured matmul peak (fp32 or bf16, as `settings.precision`), peak RSS, the PSNR entries, and the CPU's
    model, kernel capability and native bf16."""
    device = settings.device
    results: dict[str, Any] = {
        "device": str(device),
        "device_name": device_name(device),
        **cpu_fields(),
        "device_bf16_native": bf16_is_native(device),
        "precision": settings.precision,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "tiny": settings.tiny,
        "compile": settings.compile,
        "freeze": settings.freeze,
        "channels_last": settings.channels_last,
        "cuda_graphs": settings.cuda_graphs,
        "batch_size": settings.batch,
        "warmup": warmup,
        "repeats": repeats,
        "tf32": bool(device.type == "cuda" and tf32_matmul()),
    }
    size = 256 if settings.tiny else 2048
    results["matmul_size"] = size
    for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        results[f"matmul_peak_{label}_flops_per_s"] = matmul_peak_flops(device, dtype, size)
        log.info("matmul peak %s: %.1f GFLOP/s", label, results[f"matmul_peak_{label}_flops_per_s"] / 1e9)
    peak = results[
        "matmul_peak_bf16_flops_per_s" if settings.precision == "bf16" else "matmul_peak_fp32_flops_per_s"
    ]

    agents = Agents(settings)
    results["workloads"] = [name for name in names if name in TIMED]
    for name in results["workloads"]:
        start = time.perf_counter()
        with built(name, agents) as workload:
            for _ in range(warmup):
                workload.fn()
            timing = time_calls(workload.fn, device, 0, repeats)
            # Counted last: a call under the FLOP counter (a torch dispatch mode) slows the compiled calls after it
            # (a paper-size CS:GO play step, bf16 + compile: 0.45 s before, 0.61 s after), and made before any
            # plain call it keeps Dynamo from ever compiling.
            flops = count_flops(workload.fn)
        median = timing.median
        results[f"{name}_s"] = median
        results[f"{name}_min_s"] = timing.min
        results[f"{name}_times_s"] = timing.times
        results[f"{name}_flops"] = flops
        results[f"{name}_flops_per_s"] = flops / median if median > 0 else 0.0
        results[f"{name}_peak_fraction"] = flops / median / peak if median > 0 and peak > 0 else 0.0
        log.info(
            "%s: median %.4f s over %d (%.1f GFLOP, %.0f s in all)",
            name,
            median,
            repeats,
            flops / 1e9,
            time.perf_counter() - start,
        )
        if name in CSGO_BUILDERS:
            results[f"{name}_fps"] = 1 / median if median > 0 else 0.0
    if any(name in PSNR_NAMES for name in names):
        results["psnr_steps"] = psnr_steps
    if PSNR_NAME in names:
        agent = agents.get(build_agent)
        for key, fn in ((PSNR_NAME, bf16_rollout_psnr), (f"{PSNR_NAME}_one_step", bf16_one_step_psnr)):
            _record_psnr(results, key, fn(agent, settings, steps=psnr_steps))
    reference = None
    for name, preset in CSGO_PSNR_PRESETS.items():
        if name not in names:
            continue
        agent = agents.get(build_csgo_agent)
        if reference is None:  # float32 eager on the same weights (the agent itself when that is the mode)
            plain = fp32_eager(settings) == settings
            reference = agent if plain else build_csgo_agent(fp32_eager(settings))
        free, one_step = csgo_psnr(agent, reference, settings, preset, steps=psnr_steps)
        _record_psnr(results, name, free)
        _record_psnr(results, f"{name}_one_step", one_step)
    dataset_names = [name for name in names if name in DATASET_NAMES]
    if dataset_names:
        results["dataset_workloads"] = dataset_names
        results |= run_dataset_workloads(dataset_names, settings.tiny, settings.seed)
    results["peak_rss_bytes"] = peak_rss_bytes()
    return results


def _record_psnr(results: dict[str, Any], key: str, per_step: list[float]) -> None:
    results[key] = statistics.fmean(per_step)
    results[f"{key}_min"] = min(per_step)
    results[f"{key}_last"] = per_step[-1]
    results[f"{key}_per_step"] = per_step
    log.info("%s over %d steps: mean %.1f dB, min %.1f dB", key, len(per_step), results[key], min(per_step))
