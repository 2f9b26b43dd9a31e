"""scripts/gpu_check_report.py: the projection of a short run to the paper's schedule, and the summary's tables."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def report():
    return load_script("gpu_check_report")


def schedule(first_min, total, spe, final, first, per_epoch):
    names = ("denoiser", "rew_end_model", "actor_critic")
    return {
        "num_steps_total": total,
        "first_epoch_min": first_min,
        "steps_per_epoch": spe,
        "num_final_epochs": final,
        "updates_first_epoch": dict(zip(names, first, strict=True)),
        "updates_per_epoch": dict(zip(names, per_epoch, strict=True)),
    }


METRICS = [
    {"step": 0, "epoch": 0, "env_steps": 100},  # the initial collection: no epoch time
    {"epoch": 1, "time/epoch_s": 99.0, "denoiser/time_s": 50.0, "collect/num_steps": 100},  # warm-up: ignored
    {
        "epoch": 2,
        "collect/num_steps": 100,
        "denoiser/time_s": 2.0,  # 10 updates: 0.2 s each
        "rew_end_model/time_s": 1.0,  # 0.1 s each
        "actor_critic/time_s": 4.0,  # 0.4 s each
        "time/epoch_s": 12.0,  # 5 s of collection (100 steps) and checkpoint: 0.05 s per step
    },
]


def test_the_projection_scales_the_last_epochs_phases_to_the_paper_schedule(report):
    run = schedule(100, 300, 100, 0, (10, 10, 10), (10, 10, 10))
    # 1000 steps first, 3000 in all, 100 per epoch: 20 collecting epochs, then 5 final ones
    paper = schedule(1000, 3000, 100, 5, (100, 100, 50), (40, 40, 40))
    p = report.project(METRICS, run, paper)
    assert p["measured_epoch"] == 2
    assert p["per_update_s"] == pytest.approx({"denoiser": 0.2, "rew_end_model": 0.1, "actor_critic": 0.4})
    assert p["measured_phase_s"]["collection_and_checkpoint"] == pytest.approx(5.0)
    assert p["per_env_step_s"] == pytest.approx(0.05)
    assert p["paper_epochs"] == 25
    assert p["paper_initial_collection_s"] == pytest.approx(1000 * 0.05)
    assert p["paper_epoch_1_s"] == pytest.approx(100 * 0.2 + 100 * 0.1 + 50 * 0.4 + 5)  # 55
    assert p["paper_collecting_epoch_s"] == pytest.approx(40 * 0.7 + 5)  # 33
    assert p["paper_final_epoch_s"] == pytest.approx(28)
    assert p["projected_total_s"] == pytest.approx(50 + 55 + 19 * 33 + 5 * 28)
    assert p["projected_total_h"] == pytest.approx(p["projected_total_s"] / 3600)


def test_a_run_without_a_finished_epoch_has_no_projection(report):
    run = schedule(100, 300, 100, 0, (10, 10, 10), (10, 10, 10))
    with pytest.raises(ValueError, match="no finished epoch"):
        report.project(METRICS[:1], run, run)


def test_the_summary_lists_the_steps_and_the_bench_figures(report, tmp_path):
    (tmp_path / "steps.tsv").write_text("environment\tok\t2\t60\nserve_atari\ttimed out\t150\t150\n")
    (tmp_path / "env.json").write_text(json.dumps({"torch": "2.x", "device": "cuda"}))
    bench = {"play_step_s": 0.01, "play_step_min_s": 0.009, "matmul_peak_fp32_flops_per_s": 1e12}
    (tmp_path / "bench_fp32.json").write_text(json.dumps(bench))
    (tmp_path / "nccl.json").write_text("{not json")  # a broken file is skipped, not fatal
    text = report.summary(tmp_path)
    assert "| serve_atari | timed out | 150 | 150 |" in text
    assert "| play_step | 0.01 |" in text
    assert "torch: 2.x" in text
