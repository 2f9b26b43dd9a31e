"""A tiny expert dataset and tiny EDM and DDPM world models trained on it through `diamond train` (static dataset,
world model only), for the drift tests."""

from __future__ import annotations

from pathlib import Path

from diamond_wm.experiments.expert import write_expert_dataset
from tests.conftest import run_cli

# World model only: the denoiser trains 2 updates in each of 2 epochs, the other parts none.
STATIC_WM = [
    "env=catch",
    "env.train.id=diamond_wm/CatchLong-v0",
    "env.train.size=16",
    "common.devices=cpu",
    "common.seed=0",
    "training.num_final_epochs=2",
    "evaluation.every=2",
    "checkpointing.save_agent_every=1",
    "denoiser.training.num_autoregressive_steps=0",
    "denoiser.training.steps_first_epoch=2",
    "denoiser.training.steps_per_epoch=2",
    "denoiser.training.batch_size=2",
] + [
    f"{part}.training.{k}=0"
    for part in ("rew_end_model", "actor_critic")
    for k in ("steps_first_epoch", "steps_per_epoch")
]
MODELS = {"edm": ["agent=tiny"], "ddpm": ["agent=ddpm"]}  # the paper-size DDPM preset, as `agent=ddpm`


def make_drift_runs(root: Path) -> dict[str, Path]:
    """{"dataset": ROOT/dataset (6 train, 3 test episodes of 55 steps), "edm": run, "ddpm": run}."""
    dataset = write_expert_dataset(root / "dataset", num_train=6, num_test=3, seed=0)
    paths = {"dataset": dataset}
    for name, agent in MODELS.items():
        run = root / name
        res = run_cli(
            "train",
            f"static_dataset.path={dataset}",
            *STATIC_WM,
            *agent,
            f"hydra.run.dir={run}",
            "--no-progress",
        )
        assert res.returncode == 0, res.stderr[-3000:]
        paths[name] = run
    return paths
