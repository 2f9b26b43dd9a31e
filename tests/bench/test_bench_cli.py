"""`diamond bench` on tiny networks, run in a subprocess as a user would (no timing assertions)."""

from __future__ import annotations

import json
import logging
import math

import pytest
import torch

from diamond_wm.runtime.cpu import cpu_capability, cpu_model
from diamond_wm.runtime.precision import bf16_is_native
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
    # the CS:GO world model's play steps and fast-preset PSNR are in the default set; the 25-minute one is not
    assert results["csgo_play_step_s"] > 0 and results["csgo_play_step_hq_s"] > 0
    assert results["psnr_csgo_50_steps_one_step"] == 100.0  # fp32 eager against itself
    assert "psnr_csgo_hq_50_steps" not in results


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
    assert "csgo_play_step_s" not in results  # the CS:GO world model is built only when asked for


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
        "--channels-last",
    ):
        assert opt in res.stdout


def test_tiny_csgo_play_step_writes_frames_per_second_psnr_and_the_cpu_capability(tmp_path):
    out = tmp_path / "bench.json"
    res = run_cli(
        "bench", "--tiny", "--threads", "1", "--repeats", "2", "--precision", "bf16",
        "--only", "csgo_play_step,psnr_csgo_50_steps", "--json", str(out), timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    results = json.loads(out.read_text())
    assert results["workloads"] == ["csgo_play_step"]
    assert "play_step_s" not in results and "csgo_play_step_hq_s" not in results
    assert len(results["csgo_play_step_times_s"]) == 2
    assert results["csgo_play_step_fps"] == pytest.approx(1 / results["csgo_play_step_s"])
    assert results["csgo_play_step_flops"] > 0  # the denoiser's and the upsampler's convolutions
    # the machine, recorded with every result
    assert results["cpu_model"] == cpu_model()
    assert results["cpu_capability"] == cpu_capability() == torch.backends.cpu.get_cpu_capability()
    assert results["cpu_bf16_native"] is bf16_is_native("cpu")
    native = "native" if results["cpu_bf16_native"] else "emulated"
    assert f"CPU {cpu_model()}, kernels {cpu_capability()}, bf16 {native}" in res.stdout
    assert "csgo_play_step: " in res.stdout and "frames per second" in res.stdout
    # bf16 frames against float32 eager ones: close, not identical (the mode really ran in bf16)
    for key in ("psnr_csgo_50_steps", "psnr_csgo_50_steps_one_step"):
        per_step = results[f"{key}_per_step"]
        assert len(per_step) == 50 and all(math.isfinite(p) and p > 20 for p in per_step), key
    assert results["psnr_csgo_50_steps_one_step"] < 100  # 100 dB: identical frames
    assert "CS:GO fast frames, bf16 vs fp32 eager over 50 steps" in res.stdout


def test_csgo_psnr_of_fp32_eager_against_itself_is_identical_frames():
    from diamond_wm.bench.runner import run_bench
    from diamond_wm.bench.workloads import BenchSettings

    results = run_bench(BenchSettings(tiny=True), ["psnr_csgo_50_steps"], psnr_steps=3)
    assert results["psnr_csgo_50_steps_per_step"] == [100.0] * 3  # same weights, start, noise: same frames
    assert results["psnr_csgo_50_steps_one_step_per_step"] == [100.0] * 3
    assert results["workloads"] == []


def test_forcing_bf16_on_a_cpu_without_native_bf16_warns_and_is_recorded(tmp_path, monkeypatch, caplog):
    from diamond_wm.bench import cli
    from diamond_wm.cli.main import build_parser

    monkeypatch.setattr("diamond_wm.runtime.cpu.cpu_has_native_bf16", lambda: False)
    out = tmp_path / "bench.json"
    argv = ["bench", "--tiny", "--repeats", "1", "--warmup", "1", "--precision", "bf16", "--default-malloc"]
    args = build_parser().parse_args([*argv, "--only", "csgo_play_step", "--json", str(out)])
    with caplog.at_level(logging.WARNING, logger="diamond_wm.runtime.precision"):
        assert cli.run(args) == 0
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "precision bf16 is emulated" in warnings[0].getMessage()
    results = json.loads(out.read_text())
    assert results["cpu_bf16_native"] is False and results["device_bf16_native"] is False


def test_compiled_workloads_are_timed_compiled(monkeypatch):
    """A first call under the FLOP counter made Dynamo skip the compiled U-Nets for good: --compile timed eager code."""
    from torch._dynamo.utils import counters

    import diamond_wm.runtime.compile
    from diamond_wm.bench.runner import run_bench
    from diamond_wm.bench.workloads import BenchSettings

    # Dynamo's capture without Inductor's code generation: seconds
    monkeypatch.setattr(diamond_wm.runtime.compile, "BACKEND", "eager")
    torch._dynamo.reset()
    counters.clear()
    try:
        run_bench(BenchSettings(tiny=True, compile=True), ["csgo_play_step"], warmup=1, repeats=1)
        assert counters["stats"]["unique_graphs"] == 2  # the denoiser's U-Net and the upsampler's
    finally:
        torch._dynamo.reset()


def test_flops_are_counted_after_the_timed_calls(monkeypatch):
    """A call under the FLOP counter slows the compiled calls after it: the timed calls come first."""
    from diamond_wm.bench import runner
    from diamond_wm.bench.workloads import BenchSettings

    calls = []
    real_time, real_count = runner.time_calls, runner.count_flops
    monkeypatch.setattr(runner, "time_calls", lambda *a, **k: calls.append("time") or real_time(*a, **k))
    monkeypatch.setattr(runner, "count_flops", lambda fn: calls.append("flops") or real_count(fn))
    runner.run_bench(BenchSettings(tiny=True), ["csgo_play_step"], warmup=1, repeats=1)
    assert calls == ["time", "flops"]


def test_warmup_must_be_at_least_one():
    res = run_cli("bench", "--tiny", "--warmup", "0")
    assert res.returncode == 2
    assert "--warmup must be >= 1, got 0" in res.stderr


def test_channels_last_stores_the_unets_in_nhwc_and_keeps_the_frames():
    from diamond_wm.bench.csgo import build_csgo_agent
    from diamond_wm.bench.runner import run_bench
    from diamond_wm.bench.workloads import BenchSettings

    settings = BenchSettings(tiny=True, channels_last=True)
    agent = build_csgo_agent(settings)
    convs = [
        m.weight
        for part in (agent.denoiser, agent.upsampler)
        for m in part.inner_model.modules()
        if isinstance(m, torch.nn.Conv2d)
    ]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    assert not all(w.is_contiguous() for w in convs)  # really reordered, not 1x1 kernels only
    results = run_bench(settings, ["psnr_csgo_50_steps"], psnr_steps=3)
    assert results["channels_last"] is True
    # the same computation in another memory order: frames equal up to float32 summation order
    assert min(results["psnr_csgo_50_steps_per_step"]) > 60


def test_tiny_distributed_bench_times_one_and_two_processes(tmp_path):
    out = tmp_path / "ddp.json"
    res = run_cli(
        "bench",
        "--tiny",
        "--device",
        "cpu",
        "--distributed",
        "2",
        "--repeats",
        "2",
        "--threads",
        "1",
        "--json",
        str(out),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    data = json.loads(out.read_text())
    key = "ddp_denoiser_train_step"
    assert data[f"{key}_backend"] == "gloo" and data[f"{key}_nproc"] == 2
    assert len(data[f"{key}_1proc_times_s"]) == len(data[f"{key}_2proc_times_s"]) == 2
    assert data[f"{key}_1proc_s"] > 0 and data[f"{key}_2proc_s"] > 0
    eff = data[f"{key}_scaling_efficiency"]
    assert eff == pytest.approx(data[f"{key}_1proc_s"] / data[f"{key}_2proc_s"])
    assert "scaling efficiency" in res.stdout


def test_distributed_bench_needs_two_processes():
    res = run_cli("bench", "--tiny", "--device", "cpu", "--distributed", "1")
    assert res.returncode == 2
    assert "--distributed must be at least 2 processes, got 1" in res.stderr
