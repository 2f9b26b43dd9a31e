"""End to end, as a user runs it (every step a real `diamond` subprocess): recorded play -> `diamond dataset` ->
a tiny CS:GO-shaped training (`--config-name csgo`, 2 epochs, denoiser + upsampler with test losses) ->
`diamond dataset spawn` -> `diamond play` headless in dataset mode and in the world model.

(a) a tar of synthetic CS:GO hdf5 episodes, the upsampler's targets read from the extracted hdf5 files;
(b) synthetic gameplay videos with CSV key logs, the upsampler's targets from the imported full-resolution copy."""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import run_cli

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")

# Tiny networks of the CS:GO shape. The upsampler gets 4 levels: its middle attention then runs at 1/8 of the
# full resolution (at 1/2, 150x280 frames need GBs for the attention matrix).
TINY = [
    "common.devices=cpu",
    "common.seed=0",
    "training.num_final_epochs=2",
    "training.num_workers_data_loaders=1",
    "evaluation.every=1",
    "checkpointing.save_agent_every=1",
    *[
        f"agent.{part}.inner_model.{k}={v}"
        for part, levels in (("denoiser", 2), ("upsampler", 4))
        for k, v in (
            ("cond_channels", 8),
            ("depths", "[" + ",".join(["1"] * levels) + "]"),
            ("channels", "[" + ",".join(["4"] * levels) + "]"),
            ("attn_depths", "[" + ",".join(["0"] * levels) + "]"),
        )
    ],
    *[
        f"{part}.training.{k}={v}"
        for part in ("denoiser", "upsampler")
        for k, v in (
            ("steps_first_epoch", 2),
            ("steps_per_epoch", 2),
            ("batch_size", 2),
            ("grad_acc_steps", 1),
        )
    ],
]


def ok(res) -> str:
    assert res.returncode == 0, (res.stdout[-2000:], res.stderr[-3000:])
    return res.stdout


def train_spawn_and_play(root: Path, low_res: Path, full_res: Path) -> None:
    """The tiny training, its spawn points and the two play modes; checks what each leaves."""
    run = root / "run"
    ok(
        run_cli(
            "train",
            "--config-name",
            "csgo",
            *TINY,
            f"env.path_data_low_res={low_res}",
            f"env.path_data_full_res={full_res}",
            f"hydra.run.dir={run}",
            "--no-progress",
            cwd=root,
            timeout=600,
        )
    )
    assert (run / "FINISHED").is_file()
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics if "epoch" in m][-1] == 2
    for part in ("denoiser", "upsampler"):
        losses = [m[f"test/{part}/loss_denoising"] for m in metrics if f"test/{part}/loss_denoising" in m]
        assert len(losses) == 2 and all(np.isfinite(losses)), part
    checkpoint = run / "checkpoints" / "agent_versions" / "agent_epoch_00002.pt"
    assert checkpoint.is_file()
    # Training on from a checkpoint (as from the published csgo.pt): both networks start from its weights.
    tuned = root / "tuned"
    res = run_cli(
        "train", "--config-name", "csgo", *TINY, "training.num_final_epochs=1", f"initialization.path_to_ckpt={checkpoint}",
        f"env.path_data_low_res={low_res}", f"env.path_data_full_res={full_res}", f"hydra.run.dir={tuned}",
        "--no-progress", cwd=root, timeout=600,
    )  # fmt: skip
    ok(res)
    assert f"initialized denoiser, upsampler from {checkpoint}" in (tuned / "train.log").read_text()
    assert (tuned / "FINISHED").is_file()

    out = ok(run_cli("dataset", "spawn", str(low_res), str(full_res), str(root / "spawn"), "--count", "2"))
    assert "wrote 2 spawn points" in out
    shots = {"dataset": root / "dataset.png", "world_model": root / "world_model.png"}
    ok(run_cli("play", str(run), "-d", "--max-frames", "3", "--screenshot", str(shots["dataset"]), cwd=root))
    ok(
        run_cli(
            "play",
            "--checkpoint",
            str(checkpoint),
            "--spawn",
            str(root / "spawn"),
            "--max-frames",
            "3",
            "--screenshot",
            str(shots["world_model"]),
            cwd=root,
            timeout=300,
        )
    )
    for shot in shots.values():
        assert shot.stat().st_size > 1000, shot  # a window was drawn


def test_csgo_tars_to_a_trained_world_model_played_headless(tmp_path):
    from diamond_wm.conversion.synthetic import write_csgo_tar

    tars = tmp_path / "tars"
    tar = write_csgo_tar(tars, 1, 3, 16)
    out = ok(run_cli("dataset", "csgo", str(tars), str(tmp_path / "csgo"), "--test-split", "every:3"))
    assert "train: 2 episodes, 32 steps" in out and "test: 1 episode, 16 steps" in out
    hdf5 = tmp_path / "hdf5"
    with tarfile.open(tar) as t:  # as the published converter extracts them: <a>-<b>/
        t.extractall(hdf5 / "1-3", filter="data")
    train_spawn_and_play(tmp_path, tmp_path / "csgo" / "low_res", hdf5)


@pytest.mark.slow
def test_videos_and_key_logs_to_a_trained_world_model_played_headless(tmp_path):
    pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")
    from diamond_wm.conversion.synthetic import write_game_videos

    write_game_videos(tmp_path / "videos", 2, 40, (60, 100))
    out = ok(
        run_cli(
            "dataset",
            "import",
            str(tmp_path / "videos"),
            str(tmp_path / "mygame"),
            "--actions",
            "csv",
            "--action-spec",
            "csgo",
            "--size",
            "12x20",
            "--full-res-size",
            "60x100",
            "--test-fraction",
            "0.25",
        )
    )
    assert "imported 4 episodes (80 frames) from 2 videos" in out
    train_spawn_and_play(tmp_path, tmp_path / "mygame" / "low_res", tmp_path / "mygame" / "full_res")
