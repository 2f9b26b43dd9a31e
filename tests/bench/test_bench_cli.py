"""`diamond bench` on tiny networks, run in a subprocess as a user would (no timing assertions)."""

from __future__ import annotations

import json
import math

from tests.conftest import run_cli

WORKLOADS = (
    "denoiser_train_step",
    "rew_end_train_step",
    "wm_step",
    "actor_critic_train_step",
    "play_step",
    "real_env_step",
)


def test_tiny_bench_writes_positive_timings_flops_and_psnr(tmp_path):
    out = tmp_path / "bench.json"
    res = run_cli(
        "bench",
        "--tiny",
        "--threads",
        "1",
        "--repeats",
        "1",
        "--warmup",
        "1",
        "--json",
        str(out),
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    results = json.loads(out.read_text())
    for name in WORKLOADS:
        assert results[f"{name}_s"] > 0, name
        assert name in res.stdout  # the table
    for name in WORKLOADS[:5]:  # the networks' workloads count matmul/conv FLOPs
        assert results[f"{name}_flops"] > 0, name
        assert results[f"{name}_peak_fraction"] > 0, name
    assert results["matmul_peak_fp32_flops_per_s"] > 0
    assert results["matmul_peak_bf16_flops_per_s"] > 0
    assert results["peak_rss_bytes"] > 0
    assert results["threads"] == 1 and results["tiny"] is True
    psnr = results["psnr_bf16_50_steps"]
    assert math.isfinite(psnr) and psnr > 0
    assert len(results["psnr_bf16_50_steps_per_step"]) == 50
    one_step = results["psnr_bf16_50_steps_one_step_per_step"]
    assert len(one_step) == 50 and all(math.isfinite(p) and p > 0 for p in one_step)
    assert "one step from the float32 rollout" in res.stdout


def test_only_selects_workloads_and_bf16_precision(tmp_path):
    out = tmp_path / "bench.json"
    res = run_cli(
        "bench", "--tiny", "--threads", "1", "--repeats", "1", "--precision", "bf16",
        "--only", "wm_step,play_step", "--json", str(out), timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = json.loads(out.read_text())
    assert results["precision"] == "bf16"
    assert results["wm_step_s"] > 0 and results["play_step_s"] > 0
    assert "denoiser_train_step_s" not in results and "psnr_bf16_50_steps" not in results


def test_unknown_workload_is_an_error_naming_it():
    res = run_cli("bench", "--tiny", "--only", "wm_stepp")
    assert res.returncode == 2
    assert "wm_stepp" in res.stderr


def test_freeze_without_compile_is_an_error():
    res = run_cli("bench", "--tiny", "--freeze")
    assert res.returncode == 2
    assert "--freeze needs --compile" in res.stderr


def test_help_documents_the_options():
    res = run_cli("bench", "--help")
    assert res.returncode == 0
    for opt in (
        "--json",
        "--device",
        "--only",
        "--repeats",
        "--warmup",
        "--threads",
        "--precision",
        "--tiny",
        "--compile",
        "--freeze",
    ):
        assert opt in res.stdout
