"""A run killed at any point resumes to the run it would have been: before its first checkpoint (during the
initial collection) and during its first epoch (after the initial collection's checkpoint). Runs that do not
collect (a static dataset, model-free mode) resume from their last epoch."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from diamond_wm.data.published_layout import read_index
from tests.conftest import cli_command, cli_env, run_cli
from tests.training.test_train_cli import CATCH, MODEL_FREE, final_state, train

# A longer initial collection than CATCH's, so that a kill can land inside it.
OVERRIDES = [
    *CATCH,
    "collection.train.first_epoch.min=400",
    "collection.train.first_epoch.max=400",
    "collection.train.num_steps_total=450",
]


def _train_episodes(run_dir: Path) -> int:
    index = run_dir / "dataset" / "train" / "info.pt"
    try:
        return read_index(index).num_episodes if index.is_file() else 0
    except Exception:  # pragma: no cover - replaced atomically, but be tolerant while polling
        return 0


def _state_epoch(run_dir: Path) -> int | None:
    state = run_dir / "checkpoints" / "state.pt"
    if not state.is_file():
        return None
    try:
        return int(torch.load(state, weights_only=True)["epoch"])
    except (EOFError, RuntimeError):  # pragma: no cover
        return None


def _kill_when(run_dir: Path, ready: Callable[[], bool], timeout: float = 300) -> None:
    proc = subprocess.Popen(
        cli_command("train", *OVERRIDES, f"hydra.run.dir={run_dir}", "--no-progress"),
        cwd=run_dir.parent,
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.time() + timeout
        while not ready():
            assert proc.poll() is None, proc.stderr.read()[-3000:]
            assert time.time() < deadline, "the run never reached the point to interrupt"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        proc.kill()


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    _, run_dir = train(tmp_path_factory.mktemp("straight"), *OVERRIDES, name="straight")
    return run_dir


def _resume_and_compare(run_dir: Path, straight: Path) -> str:
    res = run_cli("train", "--resume", str(run_dir), "--no-progress", cwd=run_dir.parent, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = final_state(straight), final_state(run_dir)
    assert a["epoch"] == b["epoch"] == 3 and a["num_env_steps"] == b["num_env_steps"] == 450
    assert b["datasets"] == a["datasets"]  # the same episodes, no leftover of the interrupted start
    different = [k for k in a["agent"] if not torch.equal(a["agent"][k], b["agent"][k])]
    assert not different, f"{len(different)} tensors differ, e.g. {different[:3]}"
    assert (run_dir / "FINISHED").read_text() == (straight / "FINISHED").read_text()
    return res.stderr


def test_killed_during_the_initial_collection(tmp_path, straight):
    run_dir = tmp_path / "run"
    _kill_when(run_dir, lambda: _train_episodes(run_dir) >= 2)
    assert _state_epoch(run_dir) is None, "killed too late: the initial collection had finished"
    partial = _train_episodes(run_dir)
    stderr = _resume_and_compare(run_dir, straight)
    line = f"has no checkpoint yet: discarded the {partial} train episodes"
    assert sum(line in s for s in stderr.splitlines()) == 1, stderr[-3000:]


def test_killed_during_the_first_epoch(tmp_path, straight):
    run_dir = tmp_path / "run"
    _kill_when(run_dir, lambda: _state_epoch(run_dir) == 0)
    assert _state_epoch(run_dir) == 0
    stderr = _resume_and_compare(run_dir, straight)
    assert "resumed" in stderr and "at the end of the initial collection (400 env steps)" in stderr


def test_a_static_dataset_run_resumes_without_touching_the_dataset(tmp_path):
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
    from diamond_wm.training.trainer import Trainer
    from tests.published_run import snapshot

    _, source = train(tmp_path, *CATCH, name="source")
    before = snapshot(source / "dataset")

    def cfg(final_epochs: int):
        overrides = [
            *CATCH,
            f"static_dataset.path={source / 'dataset'}",
            f"training.num_final_epochs={final_epochs}",
        ]
        return to_trainer_config(compose_trainer_config(overrides))

    run_dir = tmp_path / "static"
    Trainer(cfg(1), run_dir, show_progress=False).run()
    (run_dir / "FINISHED").unlink()  # as if stopped after epoch 1 of 2
    trainer = Trainer(cfg(2), run_dir, show_progress=False)  # resumes: its datasets are read-only
    assert trainer.epoch == 1
    trainer.run()
    assert final_state(run_dir)["epoch"] == 2
    assert snapshot(source / "dataset") == before


def test_a_model_free_run_resumes_from_its_last_epoch(tmp_path):
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
    from diamond_wm.training.trainer import Trainer

    def cfg(final_epochs: int):
        overrides = [*MODEL_FREE, f"training.num_final_epochs={final_epochs}"]
        return to_trainer_config(compose_trainer_config(overrides))

    run_dir = tmp_path / "run"
    Trainer(cfg(1), run_dir, show_progress=False).run()
    (run_dir / "FINISHED").unlink()  # as if stopped after epoch 1 of 3
    trainer = Trainer(cfg(3), run_dir, show_progress=False)
    assert trainer.epoch == 1 and trainer.epochs_left() == 2  # its schedule: no collecting epoch
    trainer.run()
    state = final_state(run_dir)
    assert state["epoch"] == 3 and state["num_epochs_collect"] == 0 and state["num_env_steps"] == 0
    assert state["datasets"]["train"] == []  # nothing collected, before or after the resume
    assert state["components"]["actor_critic"]["num_updates"] == 2 + 1 + 1
    assert (run_dir / "FINISHED").is_file()
