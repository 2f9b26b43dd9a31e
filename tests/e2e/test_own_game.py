"""End to end on a real ALE game, as docs/own_game.md runs it (every step a real subprocess): Breakout recorded
as videos + CSV action logs (discrete actions, rewards, game overs) -> `diamond dataset import` -> the
`--config-name world_model` recipe at tiny sizes, all three parts trained on the imported ends -> `diamond eval
drift` on held-out episodes -> `diamond dataset spawn` -> `diamond play` headless, human and replay control, no
real environment built by any step after the recording."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import cli_env, run_cli

pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

TINY = [
    "common.devices=cpu",
    "common.seed=0",
    "training.num_final_epochs=2",
    "evaluation.every=1",
    "checkpointing.save_agent_every=1",
    "agent.denoiser.inner_model.cond_channels=8",
    "agent.denoiser.inner_model.channels=[4,4]",
    "agent.denoiser.inner_model.depths=[1,1]",
    "agent.denoiser.inner_model.attn_depths=[0,0]",
    "agent.rew_end_model.lstm_dim=8",
    "agent.rew_end_model.cond_channels=8",
    "agent.rew_end_model.channels=[4,4]",
    "agent.rew_end_model.depths=[1,1]",
    "agent.rew_end_model.attn_depths=[0,0]",
    "agent.actor_critic.lstm_dim=8",
    "agent.actor_critic.channels=[4,4,4,4]",
    *[
        f"{part}.training.{k}={v}"
        for part in ("denoiser", "rew_end_model", "actor_critic")
        for k, v in (("steps_first_epoch", 2), ("steps_per_epoch", 1), ("batch_size", 2))
    ],
]


def ok(res) -> str:
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    return res.stdout


def test_breakout_from_recordings_to_play(tmp_path: Path):
    import subprocess

    rec = tmp_path / "recordings"
    record = [sys.executable, "-m", "diamond_wm.datasets.record_atari", "record", "BreakoutNoFrameskip-v4"]
    res = subprocess.run(
        [*record, str(rec), "--videos", "2", "--frames", "260", "--seed", "0"],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert "games ended" in ok(res)
    out = ok(
        run_cli(
            "dataset", "import", str(rec), str(tmp_path / "breakout"), "--actions", "csv",
            "--action-spec", str(rec / "action_spec.json"), "--test-fraction", "0.3", cwd=tmp_path,
        )
    )  # fmt: skip
    assert f"--config-name world_model static_dataset.path={tmp_path / 'breakout' / 'low_res'}" in out
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "diamond_wm.datasets.record_atari",
            "compare",
            str(rec),
            str(tmp_path / "breakout"),
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    psnrs = [float(line.split("PSNR ")[1].split(" dB")[0]) for line in ok(res).splitlines()]
    assert (
        len(psnrs) == 2 and min(psnrs) > 35
    )  # the codec and the resize cost a few levels, no frame is shifted

    run = tmp_path / "run"
    low_res = tmp_path / "breakout" / "low_res"
    ok(
        run_cli(
            "train", "--config-name", "world_model", f"static_dataset.path={low_res}", *TINY,
            f"hydra.run.dir={run}", cwd=tmp_path, timeout=600,
        )
    )  # fmt: skip
    finished = json.loads((run / "FINISHED").read_text())
    assert "test/denoiser/loss_denoising" in finished and "test/rew_end_model/loss_total" in finished
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for key in ("denoiser/loss_denoising", "rew_end_model/loss_end", "actor_critic/loss_total"):
        values = [m[key] for m in metrics if key in m]
        assert values and all(np.isfinite(values)), key

    out = ok(
        run_cli("eval", "drift", str(run), "--steps", "1", "--horizon", "5", "--out", "drift", cwd=tmp_path)
    )
    assert "| copy of the last context frame | - |" in out
    report = json.loads((tmp_path / "drift" / "drift.json").read_text())
    assert report["dataset"] == str(low_res / "test") and report["num_contexts"] >= 1

    ok(run_cli("dataset", "spawn", str(low_res), "spawn", "--count", "2", cwd=tmp_path))
    shot = tmp_path / "play.png"
    ok(
        run_cli(
            "play", str(run), "--max-frames", "6", "--size", "128", "--screenshot", str(shot), cwd=tmp_path,
            timeout=300,
        )
    )  # fmt: skip
    assert shot.stat().st_size > 1000
    checkpoint = sorted((run / "checkpoints" / "agent_versions").glob("*.pt"))[-1]
    ok(
        run_cli(
            "play", "--checkpoint", str(checkpoint), "--spawn", "spawn", "--max-frames", "4", cwd=tmp_path
        )
    )
