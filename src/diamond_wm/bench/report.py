"""The bench's results as a text table and as JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def _fmt_seconds(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def format_table(results: dict[str, Any]) -> str:
    """One line per timed workload: median, min, GFLOP, GFLOP/s, fraction of the measured matmul peak; frames per
    second of the CS:GO play steps; the PSNRs; the machine (CPU model, kernels, native bf16) and the settings."""
    head = f"{'workload':<26}{'median':>11}{'min':>11}{'GFLOP':>10}{'GFLOP/s':>10}{'% peak':>8}"
    lines = [head, "-" * len(head)]
    for name in results.get("workloads", ()):
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
    for name in results.get("workloads", ()):
        if f"{name}_fps" in results:
            lines.append(
                f"{name}: {results[f'{name}_s']:.3f} s per frame (median), {results[f'{name}_fps']:.2f} frames per second"
            )
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
    mode = _mode(results)
    for key, preset in (("psnr_csgo_50_steps", "fast"), ("psnr_csgo_hq_50_steps", "higher-quality")):
        for suffix, how in (("", "free-running"), ("_one_step", "one step from the float32 rollout's state")):
            k = key + suffix
            if k in results:
                lines.append(
                    f"CS:GO {preset} frames, {mode} vs fp32 eager over {results['psnr_steps']} steps, {how}: mean "
                    f"PSNR {results[k]:.1f} dB, min {results[f'{k}_min']:.1f} dB, last {results[f'{k}_last']:.1f} dB"
                )
    lines.append(f"peak RSS: {results['peak_rss_bytes'] / 2**20:.0f} MiB")
    lines.append(
        f"CPU {results['cpu_model']}, kernels {results['cpu_capability']}, bf16 "
        + ("native" if results["cpu_bf16_native"] else "emulated (no AVX-512 BF16, AMX or aarch64 BF16)")
    )
    csgo = any(n.startswith("csgo_") for n in results.get("workloads", ()))
    settings = [
        f"device {results['device']} ({results['device_name']})",
        f"precision {results['precision']}",
        f"threads {results['threads']}",
        f"torch {results['torch_version']}",
        f"batch {results['batch_size']}" + (" (CS:GO: 1)" if csgo else ""),
        f"warm-up {results['warmup']}",
        f"repeats {results['repeats']}",
    ]
    if results.get("compile"):
        settings.append("torch.compile" + (" with freezing" if results.get("freeze") else ""))
    if results.get("channels_last"):
        settings.append("channels-last")
    if results["tiny"]:
        settings.append("TINY networks")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def _mode(results: dict[str, Any]) -> str:
    """'bf16 + compile + freezing', 'fp32': the run's mode."""
    parts = [results["precision"]]
    if results.get("compile"):
        parts.append("compile")
    if results.get("freeze"):
        parts.append("freezing")
    if results.get("channels_last"):
        parts.append("channels-last")
    return " + ".join(parts)


def write_json(results: dict[str, Any], path: Path) -> None:
    from diamond_wm.runtime.atomic import atomic_write_text  # the file names itself if the disk is full

    atomic_write_text(path, json.dumps(results, indent=2, sort_keys=True) + "\n")
