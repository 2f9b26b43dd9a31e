"""`diamond eval drift` of a run trained on a static dataset, without --dataset: the test episodes are that
dataset's (no real environment); a run that collected its own needs --dataset, said in one line."""

from __future__ import annotations

import json

import pytest

from diamond_wm.cli.main import main
from tests.play.static_runs import (
    WORLD_MODEL_ONLY,
    no_real_env,  # noqa: F401 (fixture)
    train_static_run,
    write_recorded_game,
)

pytestmark = pytest.mark.usefixtures("restore_logging")


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    return write_recorded_game(tmp_path_factory.mktemp("game") / "mygame")


@pytest.fixture(scope="module")
def wm_run(game, tmp_path_factory):
    run = tmp_path_factory.mktemp("wm") / "run"
    return train_static_run(run, game, *WORLD_MODEL_ONLY, "world_model_env.diffusion_sampler.order=2")


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


@pytest.mark.usefixtures("no_real_env")
def test_drift_of_a_static_run_takes_the_test_episodes_of_its_dataset(wm_run, game, tmp_path):
    out = tmp_path / "out"
    args = ["eval", "drift", str(wm_run), "--steps", "1", "--horizon", "3", "--out", str(out), "--no-video"]
    assert main(args) == 0
    report = json.loads((out / "drift.json").read_text())
    assert report["dataset"] == str(game / "test") and report["num_contexts"] == 2  # its 2 test episodes
    sampler = report["models"][0]["sampler"]
    assert (
        sampler["order"] == 2 and sampler["num_steps_denoising"] == 3
    )  # the run's sampler; steps from --steps
    assert list(report["models"][0]["steps"]) == ["1"]


def test_drift_of_runs_on_other_datasets_or_none_asks_for_one(wm_run, game, tmp_path, capsys):
    other = train_static_run(
        tmp_path / "other", write_recorded_game(tmp_path / "othergame"), *WORLD_MODEL_ONLY
    )
    assert main(["-q", "eval", "drift", str(wm_run), str(other), "--out", str(tmp_path / "o")]) == 2
    line = one_error_line(capsys)
    assert "the models trained on different datasets" in line and "choose one with --dataset DIR" in line

    plain = tmp_path / "plain.pt"  # a checkpoint outside any run folder: no dataset known
    plain.write_bytes(next((wm_run / "checkpoints" / "agent_versions").iterdir()).read_bytes())
    assert main(["-q", "eval", "drift", str(plain), "-o", "agent=tiny", "--out", str(tmp_path / "p")]) == 2
    line = one_error_line(capsys)
    assert f"{plain} was not trained on a static dataset (static_dataset.path)" in line
    assert not (tmp_path / "o").exists() and not (tmp_path / "p").exists()
