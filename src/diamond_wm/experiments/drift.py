"""`make drift`: a small, CPU-sized version of the paper's section 5.1 experiment (EDM vs DDPM world models).

1. A static dataset of the scripted expert (`experiments.expert`) on `diamond_wm/CatchLong-v0` at 16 x 16 (55-step
   episodes: 4 context frames + 50 imagined ones fit).
2. Two world models of the same size (the demo's networks) trained on it with the same budget: the same updates,
   batch, learning rate and seed, 4 + 1 frame segments (no autoregressive training step, as the paper's DDPM);
   only the denoiser's parameterisation differs (`agent.denoiser.parameterisation=ddpm`). Only the denoiser trains:
   the reward/termination model and the actor-critic get 0 updates (the drift evaluation uses neither).
3. `diamond eval drift` of both at 1, 3 and 10 denoising steps over the test episodes.

Everything lands in OUT (default `outputs/drift-experiment/`); finished parts are reused (delete OUT to start over),
an interrupted training run is resumed.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

from diamond_wm.config.compose import compose_trainer_config, load_run_config, to_trainer_config
from diamond_wm.data.published_layout import INDEX_FILENAME
from diamond_wm.experiments.expert import write_expert_dataset
from diamond_wm.runtime.cpu import describe_cpu
from diamond_wm.runtime.logs import setup_logging
from diamond_wm.training.run_dir import RunDir

log = logging.getLogger("diamond_wm.experiments.drift")

MODELS = {"edm": [], "ddpm": ["agent.denoiser.parameterisation=ddpm"]}


def train_overrides(dataset: Path, updates: int, batch_size: int, seed: int) -> list[str]:
    """The `diamond train` overrides both world models share: world model only, `updates` denoiser updates."""
    epochs = 4
    per_epoch = max(1, updates // epochs)
    return [
        f"static_dataset.path={dataset}",
        "env=catch",
        "env.train.id=diamond_wm/CatchLong-v0",
        "env.train.size=16",
        "agent=demo",
        "common.devices=cpu",
        f"common.seed={seed}",
        f"training.num_final_epochs={epochs}",
        "evaluation.every=2",  # the denoiser's test loss after epochs 2 and 4 (metrics.jsonl)
        "checkpointing.save_agent_every=1",
        "denoiser.training.num_autoregressive_steps=0",
        f"denoiser.training.steps_first_epoch={per_epoch}",
        f"denoiser.training.steps_per_epoch={per_epoch}",
        f"denoiser.training.batch_size={batch_size}",
        "denoiser.optimizer.lr=3.0e-4",  # the demo's: small networks learn faster than at the paper's 1e-4
        *[
            f"{part}.training.{k}=0"
            for part in ("rew_end_model", "actor_critic")
            for k in ("steps_first_epoch", "steps_per_epoch")
        ],
    ]


def make_dataset(root: Path, num_train: int, num_test: int, seed: int) -> bool:
    """Write the expert's static dataset in `root`; False when a complete one is there already (reused)."""
    if (root / "train" / INDEX_FILENAME).is_file() and (root / "test" / INDEX_FILENAME).is_file():
        log.info("reusing the expert dataset in %s", root)
        return False
    if root.exists():
        raise ValueError(f"{root} holds an incomplete dataset: delete it and run again")
    partial = root.with_name(root.name + ".partial")
    if partial.exists():
        import shutil

        shutil.rmtree(partial)
    write_expert_dataset(partial, num_train, num_test, seed=seed)
    partial.rename(root)
    log.info("expert dataset: %d train and %d test episodes in %s", num_train, num_test, root)
    return True


def train_world_model(run_dir: Path, overrides: list[str]) -> bool:
    """Train (or resume) the run `diamond train OVERRIDES hydra.run.dir=RUN_DIR` would; False when it was finished
    already (reused)."""
    from diamond_wm.training.trainer import Trainer

    run = RunDir(run_dir)
    if run.is_finished:
        log.info("reusing the finished run %s", run_dir)
        return False
    if run.config_file.is_file():
        cfg = load_run_config(run.config_file)
    else:
        cfg = to_trainer_config(compose_trainer_config(overrides))
        log.info("diamond train %s hydra.run.dir=%s", " ".join(overrides), run_dir)
    Trainer(cfg, run_dir, show_progress=False).run()
    return True


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diamond_wm.experiments.drift", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=Path("outputs/drift-experiment"))
    parser.add_argument("--train-episodes", type=int, default=200)
    parser.add_argument("--test-episodes", type=int, default=48)
    parser.add_argument("--updates", type=int, default=2000, help="denoiser updates of each world model")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", default="1,3,10")
    parser.add_argument("--horizon", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    setup_logging()
    out = args.out
    timings_file = out / "timings.json"
    phases = _previous_phases(timings_file)  # a reused part keeps the time it took when it ran
    start = time.monotonic()
    dataset = out / "dataset"
    if make_dataset(dataset, args.train_episodes, args.test_episodes, args.seed):
        phases["dataset"] = time.monotonic() - start
    overrides = train_overrides(dataset.resolve(), args.updates, args.batch_size, args.seed)
    for name, extra in MODELS.items():
        t = time.monotonic()
        if train_world_model(out / name, overrides + extra):
            phases[f"train_{name}"] = time.monotonic() - t
    t = time.monotonic()
    code = run_drift_command(
        [str(out / name) for name in MODELS]
        + ["--dataset", str(dataset / "test"), "--steps", args.steps, "--horizon", str(args.horizon)]
        + ["--out", str(out / "report"), "--labels", "EDM,DDPM", "--seed", str(args.seed)]
    )
    phases["drift"] = time.monotonic() - t
    this_call = time.monotonic() - start
    timings = {"phases_s": phases, "all_phases_s": sum(phases.values()), "this_call_s": this_call}
    timings_file.write_text(json.dumps({**timings, "machine": describe_cpu()}, indent=2) + "\n")
    detail = ", ".join(f"{k} {_minutes(v)}" for k, v in phases.items())
    print(f"machine: {describe_cpu()}")
    print(
        f"wall time: {_minutes(this_call)} for this call; all parts {_minutes(sum(phases.values()))} ({detail})"
    )
    return code


def run_drift_command(args: list[str]) -> int:
    """`diamond eval drift ARGS` in a child process; its exit code. The experiment runs the command as a user
    would: an application does not import another one (or the `diamond` command), see tests/test_layers.py."""
    sys.stdout.flush()  # this process's lines before the command's
    sys.stderr.flush()
    command = [sys.executable, "-m", "diamond_wm.cli", "eval", "drift", *args]
    log.info("diamond eval drift %s", " ".join(args))
    return subprocess.run(command, check=False).returncode


def _previous_phases(path: Path) -> dict[str, float]:
    try:
        return {k: float(v) for k, v in json.loads(path.read_text())["phases_s"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _minutes(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s"


if __name__ == "__main__":
    sys.exit(main())
