"""`torchrun --nproc-per-node=2 -m diamond_wm.cli train ...` end to end on CPU (gloo), tiny networks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from diamond_wm.training.metrics import read_metrics
from tests.conftest import cli_env
from tests.training.test_train_cli import CATCH, final_state

NPROC = 2


def torchrun_command(*args: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={NPROC}",
        "-m",
        "diamond_wm.cli",
        *args,
    ]


def torchrun_train(cwd: Path, *overrides: str, run_dir: Path | None = None) -> subprocess.CompletedProcess:
    args = ["train", *overrides, "--no-progress"] + ([f"hydra.run.dir={run_dir}"] if run_dir else [])
    res = subprocess.run(
        torchrun_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=600
    )
    assert res.returncode == 0, res.stderr[-4000:]
    return res


def test_two_processes_train_in_step_and_only_rank_0_writes(tmp_path):
    # No hydra.run.dir: rank 0 picks the time-stamped folder and the other rank uses it (not its own).
    torchrun_train(tmp_path, *CATCH, "rew_end_model.training.rewarded_share=0.5")
    runs = list((tmp_path / "outputs").glob("*/*"))
    assert len(runs) == 1, runs
    run_dir = runs[0]
    stray = [
        p
        for p in tmp_path.rglob("*")
        if p != run_dir and run_dir not in p.parents and p not in run_dir.parents
    ]
    assert not stray, stray  # nothing outside the run folder (no folder of its own for rank 1)
    state = final_state(run_dir)
    assert state["epoch"] == 3 and (run_dir / "FINISHED").is_file()
    assert len(state["ranks"]) == NPROC  # every rank's own RNGs, imagination state and reward class counts
    counts = [r["objectives"]["rew_end_model"]["reward_class_shift"]["all"] for r in state["ranks"]]
    assert torch.equal(
        counts[0], state["components"]["rew_end_model"]["objective"]["reward_class_shift"]["all"]
    )
    assert counts[0].sum() > 0 and not torch.equal(counts[0], counts[1])  # each counted its own batches
    # One writer: each epoch's line once in the log, one metrics record per epoch.
    log = (run_dir / "train.log").read_text()
    for e in (1, 2, 3):
        assert log.count(f"epoch {e} | env steps") == 1, log
    assert "2 processes: rank r seeds common.seed + r (0, 1)" in log
    epochs = [m for m in read_metrics(run_dir / "metrics.jsonl") if "epoch" in m]
    assert [m["epoch"] for m in epochs] == [0, 1, 2, 3]
    digests = [m["dist/weight_digests"] for m in epochs[1:]]
    assert all(len(d) == NPROC and len(set(d)) == 1 for d in digests), (
        digests
    )  # identical weights, each epoch
    assert len({d[0] for d in digests}) == 3  # and they changed from epoch to epoch
    assert all(m["denoiser/num_updates"] > 0 for m in epochs[1:])
    # The checkpoint keeps the plain (non-DDP) key names.
    assert not any("module." in k for k in state["agent"])
    assert not any(
        ".module." in k
        for k in torch.load(
            run_dir / "checkpoints" / "agent_versions" / "agent_epoch_00003.pt", weights_only=True
        )
    )


def _wait_for_epoch(run_dir: Path, epoch: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state_file = run_dir / "checkpoints" / "state.pt"
        if state_file.exists():
            try:
                if torch.load(state_file, weights_only=True)["epoch"] >= epoch:
                    return
            except (EOFError, RuntimeError):  # pragma: no cover - replaced atomically
                pass
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.1)
    raise AssertionError(f"epoch {epoch} not reached in {timeout} s")


@pytest.mark.slow
@pytest.mark.parametrize(
    "variant",
    [
        pytest.param([], id="ram"),
        pytest.param(["training.cache_in_ram=false", "training.num_workers_data_loaders=1"], id="disk"),
        pytest.param(
            ["rew_end_model.training.rewarded_share=0.5"], id="rewarded-share"
        ),  # each rank's counts
    ],
)
def test_an_interrupted_two_process_run_resumes_to_the_same_weights(tmp_path, variant):
    overrides = [*CATCH, *variant, "training.num_final_epochs=2"]
    straight = tmp_path / "straight"
    torchrun_train(tmp_path, *overrides, run_dir=straight)

    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        torchrun_command("train", *overrides, f"hydra.run.dir={run_dir}", "--no-progress"),
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_epoch(run_dir, 2, proc)
        proc.send_signal(signal.SIGTERM)  # as a cluster's scheduler stops a job: torchrun stops its ranks
        proc.wait(timeout=120)
    finally:
        proc.kill()
    assert not (run_dir / "FINISHED").exists()
    assert final_state(run_dir)["epoch"] < 4
    torchrun_train(tmp_path, "--resume", str(run_dir))
    a, b = final_state(straight), final_state(run_dir)
    assert a["epoch"] == b["epoch"] == 4
    different = [k for k in a["agent"] if not torch.equal(a["agent"][k], b["agent"][k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    assert (run_dir / "FINISHED").read_text() == (straight / "FINISHED").read_text()


@pytest.mark.slow
def test_a_csgo_world_model_trains_on_two_processes_with_a_rank_without_episode(tmp_path):
    # The denoiser and the upsampler on recorded play, disk-backed with DataLoader workers; one training episode
    # for two ranks: rank 1 has none of its own and draws from all (as one process would).
    from tests.training.test_train_world_model_only import TINY_CSGO, write_recorded_play

    write_recorded_play(tmp_path / "low", (6, 10), seed=1, episodes=(12,))
    write_recorded_play(tmp_path / "full", (30, 50), seed=2, episodes=(12,))
    run_dir = tmp_path / "run"
    torchrun_train(
        tmp_path,
        *TINY_CSGO,
        f"static_dataset.path={tmp_path / 'low'}",
        f"static_dataset.full_res_path={tmp_path / 'full'}",
        "training.cache_in_ram=false",
        "training.num_workers_data_loaders=1",
        run_dir=run_dir,
    )
    state = final_state(run_dir)
    assert state["epoch"] == 2 and {k.split(".", 1)[0] for k in state["agent"]} == {"denoiser", "upsampler"}
    epochs = [m for m in read_metrics(run_dir / "metrics.jsonl") if "epoch" in m and m["epoch"] > 0]
    assert all(len(set(m["dist/weight_digests"])) == 1 for m in epochs)
    assert all(m["upsampler/num_updates"] > 0 for m in epochs)
