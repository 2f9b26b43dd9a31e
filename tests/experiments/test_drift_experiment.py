"""`make drift`'s module end to end with a tiny budget: dataset, two same-size world models, the drift report; a
second call reuses what is finished."""

from __future__ import annotations

import json

import pytest

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.experiments import drift

pytestmark = pytest.mark.usefixtures("restore_logging")


def test_both_models_share_everything_but_the_parameterisation(tmp_path):
    base = drift.train_overrides(tmp_path, updates=100, batch_size=8, seed=3)
    edm, ddpm = (to_trainer_config(compose_trainer_config(base + extra)) for extra in drift.MODELS.values())
    assert (edm.agent.denoiser.parameterisation, ddpm.agent.denoiser.parameterisation) == ("edm", "ddpm")
    ddpm.agent.denoiser.parameterisation = "edm"
    assert ddpm == edm
    assert edm.training.num_final_epochs * edm.denoiser.training.steps_per_epoch == 100
    assert edm.denoiser.training.steps_first_epoch == edm.denoiser.training.steps_per_epoch
    assert edm.actor_critic.training.steps_first_epoch == edm.rew_end_model.training.steps_per_epoch == 0


def test_the_experiment_runs_and_reuses_its_parts(tmp_path, capfd):
    out = tmp_path / "exp"
    args = ["--out", str(out), "--train-episodes", "3", "--test-episodes", "2", "--updates", "4"]
    args += ["--batch-size", "2", "--horizon", "3", "--steps", "1,2"]
    assert drift.main(args) == 0
    report = json.loads((out / "report" / "drift.json").read_text())
    assert [m["label"] for m in report["models"]] == ["EDM", "DDPM"]
    assert (
        report["models"][0]["denoiser_parameters"] == report["models"][1]["denoiser_parameters"]
    )  # same size
    assert report["num_contexts"] == 2 and report["horizon"] == 3
    assert (out / "report" / "drift.png").is_file() and (out / "report" / "drift.mp4").is_file()
    timings = json.loads((out / "timings.json").read_text())
    assert set(timings["phases_s"]) == {"dataset", "train_edm", "train_ddpm", "drift"}
    metrics = (out / "ddpm" / "metrics.jsonl").read_text()
    assert "| DDPM | 2 |" in capfd.readouterr().out  # printed by `diamond eval drift`, a child process
    assert drift.main(args) == 0  # everything reused: no training
    assert (out / "ddpm" / "metrics.jsonl").read_text() == metrics
    again = json.loads((out / "timings.json").read_text())
    assert (
        again["phases_s"]["train_ddpm"] == timings["phases_s"]["train_ddpm"]
    )  # the time it took when it ran
    assert again["this_call_s"] < timings["this_call_s"]
