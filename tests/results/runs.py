"""Tiny run folders as `diamond train` leaves them, without training: the real config and FINISHED writers.

A finished run has `config/trainer.yaml` (composed from the packaged presets, with its game and seed) and
`FINISHED` holding `final/return_mean` and `final/returns`; an unfinished one has no `FINISHED`; a run of the
published code has its unresolved config (`tests/published_run.py`) and an empty `.run_is_over`.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Optional

from omegaconf import OmegaConf

from tests.published_run import PUBLISHED_CONFIG


@cache
def _config_yaml(overrides: tuple[str, ...]) -> str:
    from diamond_wm.config.compose import compose_trainer_config, to_trainer_config

    cfg = to_trainer_config(compose_trainer_config(["common.devices=cpu", *overrides]))
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def make_run(
    root: Path,
    env_id: str = "BreakoutNoFrameskip-v4",
    seed: int = 0,
    returns: Optional[list[float]] = None,
    env_preset: str = "atari",
) -> Path:
    """A run folder of `env_id` with `seed`; finished with these final `returns` when given."""
    from diamond_wm.training.outputs import RunOutputs
    from diamond_wm.training.run_dir import RunDir

    overrides = [f"env={env_preset}", f"common.seed={seed}"]
    if env_preset == "atari":
        overrides.append(f"env.train.id={env_id}")
    run = RunDir(root)
    run.create()
    run.config_file.write_text(_config_yaml(tuple(overrides)))
    if returns is not None:
        RunOutputs(run).finish(
            {
                "final/return_mean": sum(returns) / len(returns),
                "final/returns": list(returns),
                "final/lengths": [100] * len(returns),
            }
        )
    return root


def make_published_run(root: Path, env_id: str = "PongNoFrameskip-v4") -> Path:
    """The config and end marker of a finished run of the published code (no checkpoints: not read here)."""
    (root / "config").mkdir(parents=True)
    config = PUBLISHED_CONFIG.replace("{env_id}", env_id).replace("{test_max_steps}", "null")
    (root / "config" / "trainer.yaml").write_text(config)
    (root / ".run_is_over").touch()
    return root
