"""The bench's results as a text table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from diamond_wm.bench.workloads import WORKLOAD_NAMES


def _fmt_seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def format_table(results: dict[str, Any]) -> str:
    """One line per timed workload: median, min, GFLOP, GFLOP/s, fraction of the measured matmul peak."""
    head = f"{'workload':<26}{'median':>11}{'min':>11}{'GFLOP':>10}{'GFLOP/s':>10}{'% peak':>8}"
    lines = [head, "-" * len(head)]
    for name in WORKLOAD_NAMES:
        if f"{name}_s" not in results:
            continue
        flops = results.get(f"{name}_flops")
        rate = results.get(f"{name}_flops_per_s")
        frac = results.get(f"{name}_peak_fraction")
        lines.append(
            f"{name:<26}{_fmt_seconds(results[f'{name}_s']):>11}{_fmt_seconds(results[f'{name}_min_s']):>11}"
            + (f"{flops / 1e9:>10.1f}" if flops else f"{'-':>10}")
            + (f"{rate / 1e9:>10.1f}" if rate else f"{'-':>10}")
            + (f"{100 * frac:>7.1f}%" if frac else f"{'-':>8}")
        )
    lines.append("")
    for key, label in (("matmul_peak_fp32_flops_per_s", "fp32"), ("matmul_peak_bf16_flops_per_s", "bf16")):
        if key in results:
            lines.append(
                f"matmul peak {label} ({results['matmul_size']}^2): {results[key] / 1e9:.1f} GFLOP/s"
            )
    for key, how in (
        ("psnr_bf16_50_steps", "free-running (errors compound)"),
        ("psnr_bf16_50_steps_one_step", "one step from the float32 rollout's context"),
    ):
        if key in results:
            lines.append(
                f"bf16 vs fp32 imagined frames over {results['psnr_steps']} steps, {how}: mean PSNR "
                f"{results[key]:.1f} dB, min {results[f'{key}_min']:.1f} dB, last {results[f'{key}_last']:.1f} dB"
            )
    lines.append(f"peak RSS: {results['peak_rss_bytes'] / 2**20:.0f} MiB")
    lines.append(
        f"device {results['device']} ({results['device_name']}"
        + (f", CPU kernels {results['cpu_capability']}" if results["device"] == "cpu" else "")
        + f"), precision {results['precision']}, "
        f"threads {results['threads']}, torch {results['torch_version']}, batch {results['batch_size']}, "
        f"warm-up {results['warmup']}, repeats {results['repeats']}"
        + (", torch.compile" if results.get("compile") else "")
        + (" with freezing" if results.get("freeze") else "")
        + (", TINY networks" if results["tiny"] else "")
    )
    return "\n".join(lines)


def write_json(results: dict[str, Any], path: Path) -> None:
    from diamond_wm.runtime.atomic import atomic_write_text  # the file names itself if the disk is full

    atomic_write_text(path, json.dumps(results, indent=2, sort_keys=True) + "\n")
