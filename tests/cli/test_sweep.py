"""`diamond train -m`: run folders named by the swept values, relaunch = resume, every job checked up front."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import torch

from diamond_wm.cli import sweep
from diamond_wm.cli.main import main
from diamond_wm.config.compose import TRAINER_CONFIG_NAME, compose_trainer_config, to_trainer_config
from tests.conftest import run_cli

# A whole run in a few seconds: 60 random steps, one collecting epoch of 20, one final epoch; one update of each
# part per epoch; no evaluation but the final one (one episode).
TINY = [
    "env=catch",
    "env.train.size=16",
    "agent=tiny",
    "common.devices=cpu",
    "collection.train.num_steps_total=80",
    "collection.train.first_epoch.min=60",
    "collection.train.first_epoch.max=60",
    "collection.train.steps_per_epoch=20",
    "training.num_final_epochs=1",
    "evaluation.should=false",
    "collection.test.num_final_episodes=1",
    "checkpointing.save_agent_every=1",
] + [
    f"{c}.training.{k}={v}"
    for c in ("denoiser", "rew_end_model", "actor_critic")
    for k, v in (("steps_first_epoch", 1), ("steps_per_epoch", 1), ("batch_size", 2))
]
SWEEP = ["common.seed=0,1", "collection.train.epsilon=0.01,0.05"]  # 2 x 2 runs
RUN_NAMES = sorted(f"collection.train.epsilon={e},common.seed={s}" for e in ("0.01", "0.05") for s in (0, 1))
JOBLIB = ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"]


def _plan(*overrides: str, **kwargs) -> sweep.SweepPlan:
    return sweep.plan_sweep(list(overrides), TRAINER_CONFIG_NAME, TRAINER_CONFIG_NAME, **kwargs)


def _cfg(*overrides: str):
    return to_trainer_config(compose_trainer_config(list(overrides)))


def test_run_folders_are_named_by_the_swept_values_only():
    plan = _plan("agent=tiny", "common.seed=0,1", "env.train.id=PongNoFrameskip-v4,BreakoutNoFrameskip-v4")
    assert plan.sweep_dir == Path(
        "multirun/agent=tiny_common.seed=0,1_env.train.id=PongNoFrameskip-v4,BreakoutNoFrameskip-v4"
    )
    assert [j.name for j in plan.jobs] == [
        "common.seed=0,env.train.id=PongNoFrameskip-v4",
        "common.seed=0,env.train.id=BreakoutNoFrameskip-v4",
        "common.seed=1,env.train.id=PongNoFrameskip-v4",
        "common.seed=1,env.train.id=BreakoutNoFrameskip-v4",
    ]
    assert all(j.run_dir == plan.sweep_dir / j.name for j in plan.jobs)
    assert plan.jobs[0].overrides == ["agent=tiny", "common.seed=0", "env.train.id=PongNoFrameskip-v4"]
    # What Hydra is told, so that its jobs land in the same folders.
    assert "hydra.sweep.subdir=${hydra.job.override_dirname}" in plan.hydra_overrides
    assert "hydra.job.config.override_dirname.exclude_keys=[agent]" in plan.hydra_overrides
    assert f"hydra.sweep.dir='{plan.sweep_dir}'" in plan.hydra_overrides


def test_the_sweep_folder_is_the_users_or_a_function_of_the_command():
    a = _plan("common.seed=0,1", "denoiser.training.batch_size=4")
    b = _plan("denoiser.training.batch_size=4", "common.seed=0,1")
    assert a.sweep_dir == b.sweep_dir  # order does not matter: the same command finds the same runs
    assert _plan("common.seed=0,1", "hydra.sweep.dir=/x/y").sweep_dir == Path("/x/y")
    demo = sweep.plan_sweep(["common.seed=0,1"], "demo", TRAINER_CONFIG_NAME)
    assert demo.sweep_dir == Path("multirun/demo_common.seed=0,1")
    many = [
        f"{c}.training.{k}=4"
        for c in ("denoiser", "rew_end_model")
        for k in ("batch_size", "steps_per_epoch")
    ]
    long = _plan("common.seed=0,1", *many)
    assert len(long.sweep_dir.name) <= 100  # ends with a hash of the overrides
    assert long.sweep_dir == _plan(*reversed(many), "common.seed=0,1").sweep_dir
    assert long.sweep_dir != _plan("common.seed=0,2", *many).sweep_dir
    single = _plan("common.seed=3")
    assert [j.name for j in single.jobs] == ["common.seed=3"]


def test_folder_names_of_a_sweep_cannot_be_changed_and_runs_are_listed_once():
    with pytest.raises(ValueError, match=r"hydra.sweep.subdir=x: a sweep names each run folder"):
        _plan("common.seed=0,1", "hydra.sweep.subdir=x")
    with pytest.raises(ValueError, match=r"the sweep lists the run common.seed=1 more than once"):
        _plan("common.seed=1,1")


def test_a_run_folder_of_another_configuration_is_named():
    saved, same = _cfg("common.seed=3"), _cfg("common.seed=3", "common.devices=cpu", "wandb.mode=offline")
    assert sweep.config_difference(saved, same) is None  # where a run trains and logs may change
    assert sweep.config_difference(saved, _cfg()) is None  # a job without a seed takes the run's
    diff = sweep.config_difference(saved, _cfg("common.seed=3", "denoiser.training.batch_size=8"))
    assert diff == "denoiser.training.batch_size is 32 there, 8 in this sweep"
    assert sweep.config_difference(saved, _cfg("common.seed=4")) == "common.seed is 3 there, 4 in this sweep"


def test_a_missing_launcher_says_which_pip_install_brings_it(monkeypatch, capsys, tmp_path):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("hydra_plugins") else real(name, *a),
    )
    monkeypatch.chdir(tmp_path)
    for launcher, extra, package in (
        ("joblib", "sweep", "hydra-joblib-launcher"),
        ("submitit_slurm", "slurm", "hydra-submitit-launcher"),
    ):
        assert main(["-q", "train", "-m", "common.seed=0,1", f"hydra/launcher={launcher}"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            f"diamond train: hydra/launcher={launcher} needs the Hydra {launcher.split('_')[0]} launcher, which "
            f"is not installed: pip install 'diamond-wm[{extra}]' (or pip install {package})"
        )
    assert not (tmp_path / "multirun").exists()


def test_every_job_is_checked_before_any_starts_one_line_each(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    args = [
        "-q",
        "train",
        "-m",
        *TINY,
        "common.seed=0,x",
        "agent.denoiser.inner_model.channels=[4,4,4,4],[4,4]",
    ]
    assert main([*args, "hydra.sweep.dir=s"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "diamond train: run agent.denoiser.inner_model.channels=[4,4,4,4],common.seed=0: invalid config: "
        "agent.denoiser.inner_model.depths=[1, 1]: expected a list as long as agent.denoiser.inner_model.channels "
        "(4 items)",
        "diamond train: run agent.denoiser.inner_model.channels=[4,4,4,4],common.seed=x (and 1 more): invalid "
        "config: common.seed: value 'x' is not an integer",
    ]
    assert not (tmp_path / "s").exists()  # no job started


@pytest.mark.skipif(
    importlib.util.find_spec("hydra_plugins.hydra_joblib_launcher") is None,
    reason="the joblib launcher is in the sweep and dev extras: pip install -e '.[dev]'",
)
def test_joblib_sweep_finishes_then_relaunch_skips_resumes_and_refuses(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = ["train", "-m", *TINY, *SWEEP, f"hydra.sweep.dir={sweep_dir}", "--no-progress"]
    res = run_cli(*command, *JOBLIB, cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "4 runs (4 new)" in res.stderr and f"{sweep_dir}: all 4 runs finished" in res.stderr
    runs = sorted(p for p in sweep_dir.iterdir() if p.is_dir())
    assert [p.name for p in runs] == RUN_NAMES
    for run in runs:  # each an ordinary run folder, finished, of its own seed and epsilon
        assert (run / "FINISHED").is_file() and (run / "scripts" / "resume.sh").is_file()
        state = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
        assert state["epoch"] == 2 and state["seed"] == int(run.name[-1])
        assert (
            f"epsilon: {run.name.split('=')[1].split(',')[0]}"
            in (run / "config" / "trainer.yaml").read_text()
        )
    mtimes = {p: (p / "checkpoints" / "state.pt").stat().st_mtime_ns for p in runs}

    # Relaunched: nothing to do, nothing touched, no job launched.
    tic = time.perf_counter()
    res = run_cli(*command, *JOBLIB, cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "4 runs (4 finished (skipped))" in res.stderr and "Launching" not in res.stderr
    assert time.perf_counter() - tic < 60
    assert mtimes == {p: (p / "checkpoints" / "state.pt").stat().st_mtime_ns for p in runs}

    # One run interrupted after its last epoch (no FINISHED): the relaunch resumes it, and only it.
    interrupted = runs[1]
    (interrupted / "FINISHED").unlink()
    res = run_cli(
        *command, cwd=tmp_path, timeout=600
    )  # the basic launcher: in this process, one after the other
    assert res.returncode == 0, res.stderr[-3000:]
    assert "4 runs (1 to resume, 3 finished (skipped))" in res.stderr
    assert f"{interrupted}: unfinished, resuming" in res.stderr and "resumed" in res.stderr
    assert (interrupted / "FINISHED").is_file()
    for run in runs:
        if run != interrupted:
            assert (run / "checkpoints" / "state.pt").stat().st_mtime_ns == mtimes[run]
            assert f"{run}: finished already, skipped" in res.stderr

    # The same folder for another configuration: an error naming the first folder, nothing overwritten.
    res = run_cli(*command, "denoiser.training.batch_size=3", cwd=tmp_path)
    assert res.returncode == 2
    first = res.stderr.splitlines()[0]
    assert first == (
        f"diamond train: {runs[0]} holds a run of another configuration (denoiser.training.batch_size is 2 "
        "there, 3 in this sweep): give this sweep another folder (hydra.sweep.dir=DIR) or move that run away"
    )
    assert mtimes[runs[0]] == (runs[0] / "checkpoints" / "state.pt").stat().st_mtime_ns


def test_jobs_composed_from_a_shared_composition_equal_full_compositions():
    from omegaconf import OmegaConf

    from diamond_wm.config.compose import SweepComposer

    plan = _plan(
        "agent=tiny,small", "common.seed=0,1", "env.train.id=PongNoFrameskip-v4,BreakoutNoFrameskip-v4"
    )
    composer = SweepComposer()
    for job in plan.jobs:
        fast = composer.compose(job.overrides, plan.swept_keys)
        full = compose_trainer_config(job.overrides, validate=False)
        assert OmegaConf.to_container(fast, resolve=True) == OmegaConf.to_container(full, resolve=True), (
            job.name
        )
        assert to_trainer_config(fast) == to_trainer_config(full)
    assert len(composer._composed) == 2  # one Hydra composition per choice of agent
    with pytest.raises(ValueError, match="unknown key 'common.sead'"):
        composer.compose(["common.sead=1"], ["common.sead"])
