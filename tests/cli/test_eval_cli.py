"""`diamond eval`: JSON report consistent with the run's own final evaluation, video, start-up errors."""

from __future__ import annotations

import json

import pytest
import torch

from diamond_wm.cli.main import main
from tests.conftest import run_cli
from tests.play.tiny_run import one_thread, train_tiny_run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    return train_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(autouse=True)
def single_thread():
    with one_thread():
        yield


def test_eval_a_run_reports_its_final_score(tiny_run, tmp_path):
    out = tmp_path / "eval.json"
    res = run_cli("eval", str(tiny_run), "--json", str(out))
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report == json.loads(out.read_text())
    final = json.loads((tiny_run / "FINISHED").read_text())
    assert report["num_episodes"] == 3 and report["reproduces_run_final"] is True
    assert report["return_mean"] == final["final/return_mean"] == report["run_final_return_mean"]
    assert len(report["returns"]) == len(report["lengths"]) == 3
    assert report["epsilon"] == 0.0


def test_eval_options_and_video(tiny_run, tmp_path, capsys):
    from diamond_wm.evaluation import video

    ckpt = sorted((tiny_run / "checkpoints" / "agent_versions").iterdir())[0]
    args = [
        "eval",
        str(ckpt),
        "-n",
        "2",
        "--seed",
        "3",
        "--epsilon",
        "0.5",
        "--json",
        str(tmp_path / "r.json"),
    ]
    assert main(["-q", *args, "--no-stdout", "--video", str(tmp_path / "v.mp4"), "--video-steps", "6"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert (report["num_episodes"], report["seed"], report["epsilon"], report["epoch"]) == (2, 3, 0.5, 1)
    assert report["reproduces_run_final"] is False
    written = tmp_path / "v.mp4"  # imageio-ffmpeg is a dependency
    assert report["video"] == str(written) and written.is_file()
    assert video.has_ffmpeg()
    captured = capsys.readouterr()
    assert captured.out == ""


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["eval", "/nonexistent/agent.pt"], "checkpoint not found: /nonexistent/agent.pt"),
        (["eval", "RUN", "--video", "x.avi"], "--video must end in .mp4 or .gif"),
        (["eval", "RUN", "-n", "0"], "--episodes must be >= 1"),
        (["eval", "BARE"], "give --env-id"),
        (["eval", "BARE", "--env-id", "NoSuchGame-v0"], "NoSuchGame-v0"),
    ],
)
def test_eval_errors_are_one_line(args, fragment, tiny_run, tmp_path, capsys):
    bare = tmp_path / "bare.pt"
    ckpt = sorted((tiny_run / "checkpoints" / "agent_versions").iterdir())[-1]
    torch.save(torch.load(ckpt, weights_only=True), bare)  # a loose copy (runs write bare state_dicts)
    args = [str(tiny_run) if a == "RUN" else str(bare) if a == "BARE" else a for a in args]
    assert main(["-q", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("diamond eval: error: ") and fragment in err[0], err


def test_a_folder_that_is_not_a_run_names_only_eval_options(tmp_path, capsys):
    assert main(["-q", "eval", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{tmp_path} is not a training run folder" in err[0]
    assert err[0].endswith("give a run folder or an agent checkpoint file")
    assert "--pretrained" not in err[0] and "--checkpoint" not in err[0]  # options of play, not of eval


def test_mp4_without_imageio_ffmpeg_fails_before_the_episodes(tiny_run, tmp_path, monkeypatch, capsys):
    from diamond_wm.evaluation import evaluate, video

    monkeypatch.setattr(video, "has_ffmpeg", lambda: False)
    monkeypatch.setattr(evaluate, "evaluate", lambda *a, **k: pytest.fail("episodes ran"))
    assert main(["-q", "eval", str(tiny_run), "--video", str(tmp_path / "v.mp4")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and "needs the package imageio-ffmpeg" in err[0] and str(tmp_path / "v.mp4") in err[0]
    )
    assert not list(tmp_path.iterdir())
