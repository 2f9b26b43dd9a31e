"""`run_bench`: builds the workloads, counts their FLOPs, times them, measures the matmul peak and bf16 PSNR."""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Sequence
from typing import Any, Optional

import torch

from diamond_wm.bench.flops import count_flops, matmul_peak_flops
from diamond_wm.bench.psnr import bf16_one_step_psnr, bf16_rollout_psnr
from diamond_wm.bench.timing import peak_rss_bytes, time_calls
from diamond_wm.bench.workloads import WORKLOAD_NAMES, BenchSettings, build_agent, built
from diamond_wm.runtime.cpu import cpu_capability, cpu_model

log = logging.getLogger(__name__)

PSNR_NAME = "psnr_bf16_50_steps"
ALL_NAMES = (*WORKLOAD_NAMES, PSNR_NAME)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_model()


def parse_only(only: Optional[str]) -> list[str]:
    """Names selected by `--only a,b` (all when None); ValueError naming an unknown one."""
    if not only:
        return list(ALL_NAMES)
    names = [n.strip() for n in only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_NAMES]
    if unknown:
        raise ValueError(f"unknown workload(s) {unknown}: expected names among {list(ALL_NAMES)}")
    return names


def run_bench(
    settings: BenchSettings,
    names: Sequence[str] = ALL_NAMES,
    warmup: int = 1,
    repeats: int = 3,
    psnr_steps: int = 50,
) -> dict[str, Any]:
    """Median seconds per call (after `warmup` calls) of each named workload, with FLOPs and achieved fraction of
    the measured matmul peak (fp32 or bf16, as `settings.precision`), peak RSS, and the bf16 PSNR entry."""
    device = settings.device
    results: dict[str, Any] = {
        "device": str(device),
        "device_name": device_name(device),
        "cpu_capability": cpu_capability(),
        "precision": settings.precision,
        "threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
        "tiny": settings.tiny,
        "compile": settings.compile,
        "freeze": settings.freeze,
        "batch_size": settings.batch,
        "warmup": warmup,
        "repeats": repeats,
        "tf32": bool(device.type == "cuda" and torch.backends.cuda.matmul.allow_tf32),
    }
    size = 256 if settings.tiny else 2048
    results["matmul_size"] = size
    for label, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        results[f"matmul_peak_{label}_flops_per_s"] = matmul_peak_flops(device, dtype, size)
        log.info("matmul peak %s: %.1f GFLOP/s", label, results[f"matmul_peak_{label}_flops_per_s"] / 1e9)
    peak = results[
        "matmul_peak_bf16_flops_per_s" if settings.precision == "bf16" else "matmul_peak_fp32_flops_per_s"
    ]

    agent = build_agent(settings)
    for name in names:
        if name == PSNR_NAME:
            continue
        start = time.perf_counter()
        with built(name, agent, settings) as workload:
            flops = count_flops(workload.fn)  # also the first warm-up call
            timing = time_calls(workload.fn, device, max(0, warmup - 1), repeats)
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
    if PSNR_NAME in names:
        results["psnr_steps"] = psnr_steps
        for key, fn in ((PSNR_NAME, bf16_rollout_psnr), (f"{PSNR_NAME}_one_step", bf16_one_step_psnr)):
            per_step = fn(agent, settings, steps=psnr_steps)
            results[key] = statistics.fmean(per_step)
            results[f"{key}_min"] = min(per_step)
            results[f"{key}_last"] = per_step[-1]
            results[f"{key}_per_step"] = per_step
            log.info(
                "%s over %d steps: mean %.1f dB, min %.1f dB", key, psnr_steps, results[key], min(per_step)
            )
    results["peak_rss_bytes"] = peak_rss_bytes()
    return results
