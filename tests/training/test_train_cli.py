"""`diamond train` end to end, through the real CLI in subprocesses, with tiny networks."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch

from diamond_wm.models.checkpoint import load_agent_state
from diamond_wm.training.metrics import read_metrics
from tests.conftest import cli_command, cli_env, run_cli

# A whole run in seconds: 100 initial steps, then 2 epochs that collect 25 each, 1 final epoch; each component
# trains 2 updates in epoch 1, then 1 per epoch.
TINY = [
    "agent=tiny",
    "common.devices=cpu",
    "common.seed=0",
    "collection.train.num_steps_total=150",
    "collection.train.first_epoch.min=100",
    "collection.train.first_epoch.max=100",
    "collection.train.steps_per_epoch=25",
    "training.num_final_epochs=1",
    "evaluation.every=2",
    "collection.test.num_episodes=1",
    "collection.test.num_final_episodes=2",
    "checkpointing.save_agent_every=1",
    "checkpointing.num_to_keep=2",
] + [
    f"{c}.training.{k}={v}"
    for c in ("denoiser", "rew_end_model", "actor_critic")
    for k, v in (("steps_first_epoch", 2), ("steps_per_epoch", 1), ("batch_size", 2))
]
CATCH = ["env=catch", "env.train.size=16", *TINY]


def train(tmp_path: Path, *overrides: str, name: str = "run") -> tuple[subprocess.CompletedProcess, Path]:
    run_dir = tmp_path / name
    res = run_cli("train", *overrides, f"hydra.run.dir={run_dir}", "--no-progress", cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res, run_dir


def final_state(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "state.pt", weights_only=True)


def test_atari_few_epochs(tmp_path):
    overrides = [
        "env.train.id=BreakoutNoFrameskip-v4",
        "env.test.max_episode_steps=60",
        *TINY,
        "collection.train.num_steps_total=80",
        "collection.train.first_epoch.min=50",
        "collection.train.first_epoch.max=50",
        "collection.train.steps_per_epoch=15",
    ]
    res, run_dir = train(tmp_path, *overrides)
    state = final_state(run_dir)
    assert state["epoch"] == 3 and state["num_env_steps"] == 80  # 50 first, then epochs 1-2 collect 15 each
    assert len(list((run_dir / "dataset" / "train").rglob("*.pt"))) > 1  # index + episodes
    metrics = read_metrics(run_dir / "metrics.jsonl")
    epochs = [m for m in metrics if "epoch" in m]
    assert [m["epoch"] for m in epochs] == [0, 1, 2, 3]  # 0: the initial collection
    assert [m["env_steps"] for m in epochs] == [50, 65, 80, 80]
    assert all(m["denoiser/num_updates"] > 0 for m in epochs[1:])
    assert "test/return_mean" in epochs[2] and "test/denoiser/loss_denoising" in epochs[2]  # epoch 2
    assert "final/return_mean" in metrics[-1]
    assert (run_dir / "FINISHED").is_file() and (run_dir / "config" / "trainer.yaml").is_file()
    versions = sorted(p.name for p in (run_dir / "checkpoints" / "agent_versions").iterdir())
    assert versions == ["agent_epoch_00002.pt", "agent_epoch_00003.pt"]  # num_to_keep=2
    assert list((run_dir / "tensorboard").iterdir()), "no TensorBoard event file"
    assert "epoch 3 | env steps 80" in res.stderr


MODEL_FREE = [
    *CATCH,
    "training.model_free=true",
    "training.num_final_epochs=3",
    # Model-free needs only the actor-critic: the world model's parts can be left out of the agent.
    "agent.denoiser=null",
    "agent.rew_end_model=null",
]


def test_model_free_mode(tmp_path):
    # As published: nothing collected on the schedule (no initial collection, no collecting epoch: the run is its
    # num_final_epochs epochs); the evaluations play test episodes, without test losses.
    res, run_dir = train(tmp_path, *MODEL_FREE, "checkpointing.save_agent_every=3")
    state = final_state(run_dir)
    assert state["epoch"] == 3 and state["num_epochs_collect"] == 0 and state["num_env_steps"] == 0
    assert state["datasets"]["train"] == [] and state["train_collector"] is None
    assert {k.split(".", 1)[0] for k in state["agent"]} == {"actor_critic"}
    versions = sorted(p.name for p in (run_dir / "checkpoints" / "agent_versions").iterdir())
    assert versions == ["agent_epoch_00003.pt"]  # every 3 epochs; the final agent is epoch 3's
    metrics = read_metrics(run_dir / "metrics.jsonl")
    epochs = [m for m in metrics if "epoch" in m]
    assert [m["epoch"] for m in epochs] == [1, 2, 3]  # no epoch 0: no initial collection
    assert all(m["env_steps"] == 0 and not any(k.startswith("collect/") for k in m) for m in epochs)
    assert all("denoiser/num_updates" not in m for m in epochs)  # no world model training
    assert epochs[-1]["actor_critic/num_updates"] == 2 + 1 + 1
    assert ["test/return_mean" in m for m in epochs] == [False, True, False]  # evaluation.every=2
    assert not any("loss" in k for m in epochs for k in m if k.startswith("test/"))
    assert "final/return_mean" in metrics[-1]
    assert "model-free: no collection; 3 epochs" in res.stderr


def test_static_dataset_and_initialization_from_checkpoint(tmp_path):
    _, source = train(tmp_path, *CATCH, name="source")
    ckpt = source / "checkpoints" / "agent_versions" / "agent_epoch_00003.pt"
    _, run_dir = train(
        tmp_path,
        *CATCH,
        f"static_dataset.path={source / 'dataset'}",  # train/ and test/ inside, as the published trainer reads it
        f"initialization.path_to_ckpt={ckpt}",
        "initialization.load_actor_critic=false",
        "training.num_final_epochs=2",
        "denoiser.training.steps_first_epoch=0",
        "denoiser.training.steps_per_epoch=0",
        name="static",
    )
    state = final_state(run_dir)
    assert state["epoch"] == 2 and state["num_env_steps"] == 0  # no collection from a static dataset
    assert not any((run_dir / "dataset" / "train").iterdir())
    metrics = [m for m in read_metrics(run_dir / "metrics.jsonl") if "epoch" in m]
    assert "test/denoiser/loss_denoising" in metrics[-1]  # test losses on the static test/ dataset
    assert not any("return_mean" in k for m in metrics for k in m)  # as published: no test episodes
    source_weights, _, _ = load_agent_state(ckpt)
    for k, v in state["agent"].items():
        if k.startswith("denoiser."):  # loaded, then not trained (0 steps)
            assert torch.equal(v, source_weights[k]), k
    ac = [k for k in state["agent"] if k.startswith("actor_critic.")]
    assert any(not torch.equal(state["agent"][k], source_weights[k]) for k in ac)  # not loaded, trained


def _wait_for_epoch(run_dir: Path, epoch: int, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        state_file = run_dir / "checkpoints" / "state.pt"
        if state_file.exists():
            try:
                if torch.load(state_file, weights_only=True)["epoch"] >= epoch:
                    return
            except (EOFError, RuntimeError):  # pragma: no cover - the file is replaced atomically
                pass
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        time.sleep(0.2)
    raise AssertionError(f"epoch {epoch} not reached in {timeout} s")


def stop_at_epoch(tmp_path: Path, run_dir: Path, epoch: int, sig: int) -> subprocess.Popen:
    """A `diamond train` of CATCH into `run_dir`, sent `sig` once `epoch` is saved; the ended process."""
    proc = subprocess.Popen(
        cli_command("train", *CATCH, f"hydra.run.dir={run_dir}", "--no-progress"),
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for_epoch(run_dir, epoch, proc)
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
    return proc


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_interrupted_run_resumes_to_the_same_weights(tmp_path, sig):
    _, straight = train(tmp_path, *CATCH, name="straight")

    run_dir = tmp_path / "interrupted"
    proc = stop_at_epoch(tmp_path, run_dir, 2, sig)
    assert not (run_dir / "FINISHED").exists()
    if sig == signal.SIGTERM:
        assert proc.returncode == 130
    res = subprocess.run(
        [str(run_dir / "scripts" / "resume.sh"), "--no-progress"],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "resumed" in res.stderr
    a, b = final_state(straight), final_state(run_dir)
    assert a["epoch"] == b["epoch"] == 3
    assert a["agent"].keys() == b["agent"].keys()
    different = [k for k in a["agent"] if not torch.equal(a["agent"][k], b["agent"][k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    assert (run_dir / "FINISHED").read_text() == (straight / "FINISHED").read_text()


def test_a_finished_run_is_not_run_again(tmp_path):
    _, run_dir = train(tmp_path, *CATCH)
    before = (run_dir / "checkpoints" / "state.pt").stat().st_mtime_ns
    res = run_cli("train", "--resume", str(run_dir), "--no-progress", cwd=tmp_path)
    assert res.returncode == 0
    assert "already finished" in res.stderr
    assert (run_dir / "checkpoints" / "state.pt").stat().st_mtime_ns == before


def test_resume_of_a_folder_that_is_not_a_run(tmp_path):
    res = run_cli("train", "--resume", str(tmp_path), cwd=tmp_path)
    assert res.returncode == 2
    assert f"cannot resume {tmp_path}: no run configuration" in res.stderr


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("[")]  # without the log records


def _bad_setup(tmp_path: Path, *overrides: str) -> tuple[str, Path]:
    run_dir = tmp_path / "run"
    res = run_cli("train", *CATCH, *overrides, f"hydra.run.dir={run_dir}", "--no-progress", cwd=tmp_path)
    assert res.returncode == 2
    lines = _error_lines(res.stderr)
    assert len(lines) == 1, res.stderr
    assert not run_dir.exists()  # refused before Hydra made the run folder: nothing to resume, nothing left
    again = run_cli("train", "--resume", str(run_dir), cwd=tmp_path)
    assert again.returncode == 2 and "no run configuration" in again.stderr
    return lines[0], run_dir


def test_a_missing_static_dataset_is_one_error_line_and_no_run(tmp_path):
    nowhere = tmp_path / "nowhere"
    line, _ = _bad_setup(tmp_path, f"static_dataset.path={nowhere}")
    assert line == (
        f"diamond train: static_dataset.path={nowhere}: folder {nowhere} does not exist; expected a folder "
        "holding train/ and test/ datasets (the published layout)"
    )


def test_an_empty_static_dataset_is_one_error_line_and_no_run(tmp_path):
    empty = tmp_path / "empty"
    (empty / "train").mkdir(parents=True)
    line, _ = _bad_setup(tmp_path, f"static_dataset.path={empty}")
    assert (
        line
        == f"diamond train: static_dataset.path={empty}: the training dataset {empty / 'train'} holds no episode"
    )


def test_a_checkpoint_of_another_architecture_is_one_error_line_and_no_run(tmp_path):
    from diamond_wm.config.agent import AgentConfig
    from diamond_wm.models.agent import Agent
    from diamond_wm.models.checkpoint import save_agent

    ckpt = save_agent(tmp_path / "paper_sized.pt", Agent(AgentConfig(), 3))
    line, _ = _bad_setup(tmp_path, f"initialization.path_to_ckpt={ckpt}")
    assert line.startswith(f"diamond train: initialization.path_to_ckpt={ckpt} does not fit the configured")
    assert "shape mismatches (first: " in line and "agent=" in line


def test_initialization_from_another_game_or_an_empty_folder_is_one_error_line(tmp_path):
    from tests.published_run import tiny_agent_state_dict

    breakout = tmp_path / "breakout.pt"  # the tiny preset's networks, 4 actions; Catch has 3
    torch.save(tiny_agent_state_dict(4), breakout)
    line, _ = _bad_setup(tmp_path, f"initialization.path_to_ckpt={breakout}")
    assert line == (
        f"diamond train: initialization.path_to_ckpt={breakout} has 4 actions but diamond_wm/Catch-v0 has 3 actions: "
        "a checkpoint of another game?"
    )
    (tmp_path / "empty").mkdir()
    line, _ = _bad_setup(tmp_path, f"initialization.path_to_ckpt={tmp_path / 'empty'}")
    assert "a folder without checkpoints/agent_versions/agent_epoch_XXXXX.pt" in line


def test_common_resume_is_refused_with_the_way_to_resume(tmp_path):
    line, _ = _bad_setup(tmp_path, "common.resume=true")
    assert line == (
        "diamond train: common.resume=true: to continue a run, use `diamond train --resume RUN_DIR` "
        "(or RUN_DIR/scripts/resume.sh)"
    )


def test_data_loader_workers_train_exactly_as_without(tmp_path):
    # training.num_workers_data_loaders=2 (the published CS:GO setting, disk-backed): the workers read the segments
    # the training process draws, so the run ends with the same weights as the in-process path.
    _, with_workers = train(
        tmp_path, *CATCH, "training.cache_in_ram=false", "training.num_workers_data_loaders=2", name="workers"
    )
    _, without = train(tmp_path, *CATCH, name="ram")
    a, b = final_state(with_workers)["agent"], final_state(without)["agent"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_training_segments_read_from_disk(tmp_path):
    # training.cache_in_ram=false: the training set reads each drawn episode from its file (the published meaning)
    _, run_dir = train(tmp_path, *CATCH, "training.cache_in_ram=false")
    assert final_state(run_dir)["epoch"] == 3
