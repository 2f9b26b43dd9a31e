"""`diamond eval drift` on tiny EDM and DDPM world models trained through `diamond train` on a static dataset."""

from __future__ import annotations

import json
import math
import shutil

import imageio.v3 as iio
import pytest
import torch

from diamond_wm.cli.main import main
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.evaluation.drift import max_psnr
from tests.conftest import run_cli
from tests.data.helpers import random_episode

pytestmark = pytest.mark.usefixtures("restore_logging")


def drift(*args: str) -> int:
    return main(["eval", "drift", *args])


def test_the_ddpm_run_trained_through_diamond_train_holds_a_ddpm_denoiser(drift_runs):
    from diamond_wm.config.compose import load_run_config

    cfg = load_run_config(drift_runs["ddpm"] / "config" / "trainer.yaml")
    assert cfg.agent.denoiser.parameterisation == "ddpm" and cfg.static_dataset.path is not None
    state = torch.load(
        drift_runs["ddpm"] / "checkpoints" / "agent_versions" / "agent_epoch_00002.pt", weights_only=True
    )
    assert any(k.startswith("denoiser.noise_model.") for k in state)
    metrics = [json.loads(line) for line in (drift_runs["ddpm"] / "metrics.jsonl").read_text().splitlines()]
    assert max(m.get("denoiser/num_updates", 0) for m in metrics) == 4  # 2 epochs of 2 updates
    assert max(m.get("actor_critic/num_updates", 0) for m in metrics) == 0  # world model only


def test_report_plot_and_video(drift_runs, tmp_path, capsys):
    out = tmp_path / "out"
    args = [str(drift_runs["edm"]), str(drift_runs["ddpm"]), "--dataset", str(drift_runs["dataset"])]
    code = drift(*args, "--steps", "1,2", "--horizon", "6", "--out", str(out), "--batch-size", "2")
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "drift.json").read_text())
    assert report["horizon"] == report["horizon_requested"] == 6 and report["note"] is None
    assert report["num_contexts"] == 3 and report["num_conditioning"] == 4  # 3 test episodes of 55 steps
    assert report["dataset"] == str(drift_runs["dataset"] / "test")  # the static dataset's test/
    assert report["perceptual"].startswith("absent")
    assert [m["label"] for m in report["models"]] == ["edm", "ddpm"]
    assert [m["parameterisation"] for m in report["models"]] == ["edm", "ddpm"]
    cap = max_psnr(3 * 16 * 16)
    for model in report["models"]:
        assert list(model["steps"]) == ["1", "2"]
        for run in model["steps"].values():
            for key in ("mse_mean", "mse_std", "psnr_mean", "psnr_std", "psnr_of_mean_mse"):
                assert len(run[key]) == 6 and all(math.isfinite(v) for v in run[key]), key
            assert all(0 <= v <= 1 for v in run["mse_mean"]) and all(v <= cap for v in run["psnr_mean"])
            assert run["wall_s"] > 0
    png = (out / "drift.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    grid = iio.imread(out / "drift_frames.png")
    assert grid.shape[0] > grid.shape[1] / 3 and report["frames"] == str(out / "drift_frames.png")  # 5 rows
    frames = iio.imread(out / "drift.mp4", index=None)
    assert frames.shape[0] == 4 + 6  # the real context, then the imagined frames
    assert frames.shape[2] >= 5 * 128  # real | edm x1 | edm x2 | ddpm x1 | ddpm x2
    printed = capsys.readouterr().out
    assert "| edm | 1 |" in printed and "| ddpm | 2 |" in printed and str(out / "drift.json") in printed
    baseline = report["baseline"]
    assert baseline["label"] == "copy of the last context frame" and len(baseline["mse_mean"]) == 6
    assert f"| copy of the last context frame | - | {baseline['mse_mean'][0]:.4f} |" in printed


def test_a_short_dataset_cuts_the_horizon_and_says_so(drift_runs, tmp_path, capsys):
    out = tmp_path / "out"
    code = drift(
        str(drift_runs["edm"]), "--dataset", str(drift_runs["dataset"]), "--steps", "1", "--horizon", "60",
        "--out", str(out), "--no-video", "-n", "1",
    )  # fmt: skip
    assert code == 0
    report = json.loads((out / "drift.json").read_text())
    assert report["horizon"] == 51 and report["horizon_requested"] == 60 and report["num_contexts"] == 1
    assert report["note"].startswith("horizon 51 instead of 60")
    assert len(report["models"][0]["steps"]["1"]["mse_mean"]) == 51
    assert "note: horizon 51 instead of 60" in capsys.readouterr().out
    assert not (out / "drift.mp4").exists()


def test_a_checkpoint_file_outside_its_run_needs_no_game(drift_runs, tmp_path):
    bare = tmp_path / "elsewhere" / "bare.pt"
    bare.parent.mkdir()
    shutil.copy(drift_runs["edm"] / "checkpoints" / "agent_versions" / "agent_epoch_00002.pt", bare)
    out = tmp_path / "out"
    code = drift(
        str(bare),
        "--dataset",
        str(drift_runs["dataset"]),
        "--steps",
        "1",
        "--horizon",
        "2",
        "--out",
        str(out),
    )
    assert code == 0
    assert json.loads((out / "drift.json").read_text())["models"][0]["label"] == "bare (edm)"


def short_dataset(root):
    ds = EpisodeDataset(root)
    ds.add_episode(random_episode(4, size=16, seed=0, num_actions=3))
    ds.close()
    return root


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("unknown model", "model not found: "),
        ("short dataset", "no episode of "),
        ("steps 0", "--steps '0': expected distinct integers >= 1"),
        ("missing dataset", "--dataset "),
        ("too many ddpm steps", "a DDPM denoiser samples with at most 1000 steps"),
    ],
)
def test_bad_inputs_are_one_line_with_exit_code_2(case, fragment, drift_runs, tmp_path, capsys):
    model, dataset, steps = str(drift_runs["ddpm"]), str(drift_runs["dataset"]), "1"
    if case == "unknown model":
        model = str(tmp_path / "nope")
    elif case == "short dataset":
        dataset = str(short_dataset(tmp_path / "short"))
    elif case == "steps 0":
        steps = "0"
    elif case == "missing dataset":
        dataset = str(tmp_path / "no-dataset")
    else:
        steps = "1,1001"
    capsys.readouterr()
    args = [model, "--dataset", dataset, "--steps", steps, "--out", str(tmp_path / "out")]
    assert main(["-q", "eval", "drift", *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("diamond eval drift: error: ") and fragment in err, (
        err
    )
    assert not (tmp_path / "out").exists()


def test_drift_is_the_command_and_a_path_named_drift_is_still_evaluated(tmp_path, capsys):
    (tmp_path / "drift").mkdir()
    res = run_cli("eval", "drift", cwd=tmp_path)
    assert res.returncode == 2 and "diamond eval drift" in res.stderr and "diamond eval ./drift" in res.stderr
    res = run_cli("eval", "./drift", cwd=tmp_path)  # the plain evaluation of a folder named drift
    assert (
        res.returncode == 2
        and "is not a training run folder" in res.stderr
        and "eval drift" not in res.stderr
    )
    with pytest.raises(SystemExit) as e:
        drift("--help")
    assert e.value.code == 0 and "RUN_OR_CHECKPOINT" in capsys.readouterr().out
