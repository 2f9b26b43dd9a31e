"""One run of `diamond train`, shared by `diamond train` (`cli.train`) and its sweeps (`cli.sweep`): the
configuration check, the trainer call, and the hand-over to Hydra. Both import it; it imports neither.

torch and Hydra are imported only once a run is composed: `diamond train --help` is instant.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from diamond_wm.cli import errors
from diamond_wm.runtime.signals import handle_termination

if TYPE_CHECKING:  # torch and Hydra are imported when a run starts, not for --help
    from omegaconf import DictConfig

    from diamond_wm.config.trainer import TrainerConfig

log = logging.getLogger("diamond_wm.cli.train")  # the name its lines have always carried


def config_name(flags: list[str]) -> str:
    """The preset `--config-name` (or `-cn`) names in Hydra's `flags`, else the default one."""
    from diamond_wm.config.compose import TRAINER_CONFIG_NAME

    for i, f in enumerate(flags):
        if f in ("--config-name", "-cn"):
            return flags[i + 1]
        if f.startswith("--config-name="):
            return f.split("=", 1)[1]
    return TRAINER_CONFIG_NAME


def check_run_overrides(overrides: Sequence[str], config_name: str) -> TrainerConfig:
    """The validated configuration of one run; a one-line `ValueError` (or `DatasetError`) for a bad key or
    value, a missing static dataset or one whose frames the networks do not take, or an initialization
    checkpoint that does not fit."""
    from diamond_wm.config.compose import compose_trainer_config

    return check_run_config(compose_trainer_config(overrides, config_name=config_name, validate=False))


def check_run_config(cfg: DictConfig) -> TrainerConfig:
    """`check_run_overrides` for a configuration composed already."""
    from diamond_wm.config.compose import to_trainer_config

    typed = to_trainer_config(cfg)
    if typed.common.resume:  # the published resume.sh's flag: our runs resume by folder
        raise ValueError(
            "common.resume=true: to continue a run, use `diamond train --resume RUN_DIR` "
            "(or RUN_DIR/scripts/resume.sh)"
        )
    if typed.static_dataset.path is not None:  # the networks take it (read quietly: the run logs it)
        from diamond_wm.config.actions import ActionSpec
        from diamond_wm.data.dataset import EpisodeDataset
        from diamond_wm.data.static import resolve_static_dataset
        from diamond_wm.training.static_checks import check_static_dataset

        path = resolve_static_dataset(typed.static_dataset.path).train
        train = EpisodeDataset(path, read_only=True, cache_in_ram=False, quiet=True)
        kind = train.action_spec or ActionSpec.infer(train.load_episode(0).act)  # no spec: their kind
        check_static_dataset(typed, train, kind)
    if typed.initialization.path_to_ckpt is not None:
        from diamond_wm.training.build import check_initialization

        check_initialization(typed)
    return typed


def train_run(cfg: TrainerConfig, run_dir: Path, show_progress: bool) -> int:
    """Run the trainer; errors the user can fix are one line (inside Hydra's job, so that a sweep goes on)."""
    from diamond_wm.training.trainer import Trainer

    with handle_termination():
        try:
            trainer = Trainer(cfg, run_dir, show_progress=show_progress)
            trainer.run()
        except KeyboardInterrupt:
            if (run_dir / "checkpoints" / "state.pt").is_file():
                log.warning(
                    "interrupted: the last checkpoint is kept; continue with `diamond train --resume %s`",
                    run_dir,
                )
            else:
                log.warning(
                    "interrupted before the first checkpoint: nothing to continue; `diamond train --resume %s` "
                    "starts the run over",
                    run_dir,
                )
            return errors.INTERRUPTED
        except Exception as err:
            resumable = (run_dir / "config" / "trainer.yaml").is_file()
            return errors.report("train", err, resume_run=run_dir if resumable else None)
    return 0


def run_hydra(
    argv: list[str], show_progress: bool, sweep_job: Callable[[TrainerConfig, Path, bool], int]
) -> int:
    """Hand `argv` to Hydra: one run (`train_run`), or each job of a sweep (`sweep_job`, the sweep's
    `run_sweep_job`, given by the caller so that this module imports neither `train` nor `sweep`)."""
    import hydra
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    from diamond_wm.config.compose import (
        PRESETS_PATH,
        TRAINER_CONFIG_NAME,
        register_configs,
        to_trainer_config,
    )

    register_configs()
    exit_codes: list[int] = []

    @hydra.main(config_path=PRESETS_PATH, config_name=TRAINER_CONFIG_NAME, version_base="1.3")
    def app(cfg) -> int:
        hydra_cfg = HydraConfig.get()
        run_dir = Path(hydra_cfg.runtime.output_dir)
        if hydra_cfg.mode == RunMode.MULTIRUN:  # a job of a sweep, maybe in another process (joblib, SLURM)
            code = sweep_job(to_trainer_config(cfg), run_dir, show_progress)
        else:
            code = train_run(to_trainer_config(cfg), run_dir, show_progress)
        exit_codes.append(code)
        return code

    saved, saved_full_error = sys.argv, os.environ.get("HYDRA_FULL_ERROR")
    sys.argv = ["diamond train", *argv]
    # Hydra would print its own multi-line report of an error and exit; let `diamond`'s handler word it instead.
    os.environ["HYDRA_FULL_ERROR"] = "1"
    try:
        app()
    finally:
        sys.argv = saved
        if saved_full_error is None:
            os.environ.pop("HYDRA_FULL_ERROR", None)
        else:
            os.environ["HYDRA_FULL_ERROR"] = saved_full_error
    return max(exit_codes, default=0)
