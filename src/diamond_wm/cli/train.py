"""`diamond train`: compose and validate the configuration, then hand over to Hydra and the trainer.

torch and Hydra are imported only once a run is composed: `diamond train --help` is instant.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence
from pathlib import Path

from diamond_wm.cli import errors
from diamond_wm.cli.hydra_run import check_run_overrides, config_name, run_hydra, train_run

HELP = """usage: diamond train [--resume RUN_DIR] [--config-name NAME] [HYDRA FLAGS] [KEY=VALUE ...]

Train a DIAMOND agent: collect real frames, train the diffusion world model and the reward/termination model,
train the actor-critic in imagination. Runs are written to outputs/YYYY-MM-DD/hh-mm-ss/.

Several GPUs: common.devices=all (or a list, e.g. [0,1]) starts one process per GPU through torchrun; for
several machines launch `torchrun ... -m diamond_wm.cli train ...` on each (see docs/distributed.md).

Configuration overrides use the keys of the published config/trainer.yaml, for example:
  env.train.id=BreakoutNoFrameskip-v4 common.devices=0
  world_model_env.diffusion_sampler.num_steps_denoising=5
  training.model_free=true   static_dataset.path=DIR   initialization.path_to_ckpt=FILE_OR_RUN_DIR
  collection.train.epsilon=0.05   denoiser.training.batch_size=16   wandb.mode=online

options:
  -h, --help          show this help and exit
  --resume RUN_DIR    continue an interrupted run from its last checkpoint (also RUN_DIR/scripts/resume.sh)
  --no-progress       no progress bars on a terminal, no line per phase in a log file or pipe (the one-line
                      summary of every epoch stays)
  --config-name NAME  start from another packaged preset: trainer (default), demo (the CPU demo: Catch,
                      small networks), atari_cpu (an Atari game on a CPU: Krull, small networks, bf16, a
                      short schedule, about an hour on 2 cores; env.train.id=ID for another game),
                      world_model (your own game's world model on recorded play: static_dataset.path=DIR
                      [world_model_size=small|paper]) or csgo (the CS:GO world model on recorded play:
                      env.path_data_low_res=DIR env.path_data_full_res=DIR); also -cn NAME
  --debug             show the full traceback of an error (otherwise errors you can fix are one line)
  --cfg job           print the composed configuration and exit (Hydra; also --cfg hydra|all, --resolve)
  --info              print Hydra's information about the composition and exit
  -m, --multirun      run a Hydra sweep, e.g. -m common.seed=0,1,2: one run folder per run, in multirun/<the
                      overrides>/ or hydra.sweep.dir=DIR; the same command again skips the finished runs and
                      resumes the others; hydra/launcher=joblib|submitit_slurm (docs/sweeps.md)
"""

_HYDRA_FLAGS_WITH_VALUE = {"--cfg", "-c", "--package", "-p", "--config-name", "-cn", "--config-path", "-cp"}
_HYDRA_FLAGS = {"--resolve", "--info", "-i", "-m", "--multirun", "--run", "-r"}


_errors = errors.CommandErrors("diamond train")


def _split(args: Sequence[str]) -> tuple[list[str], list[str]]:
    """Hydra flags (kept for Hydra) and plain `key=value` overrides."""
    flags, overrides = [], []
    it = iter(args)
    for a in it:
        if a in _HYDRA_FLAGS_WITH_VALUE:
            flags += [a, next(it, "")]
        elif a.split("=", 1)[0] in _HYDRA_FLAGS_WITH_VALUE or a in _HYDRA_FLAGS or a.startswith("--info="):
            flags.append(a)
        elif a.startswith("-"):
            raise ValueError(f"unknown option {a!r}: see `diamond train --help`")
        else:
            overrides.append(a)
    return flags, overrides


def run_train_command(args: Sequence[str]) -> int:
    """Entry of `diamond train`. Returns the process exit code."""
    parser = argparse.ArgumentParser(prog="diamond train", add_help=False)
    parser.add_argument("-h", "--help", action="store_true")
    parser.add_argument("--resume", metavar="RUN_DIR")
    parser.add_argument("--no-progress", action="store_true")
    known, rest = parser.parse_known_args(list(args))
    if known.help:
        print(HELP, end="")
        return 0
    if known.resume is not None:
        if rest:
            return _errors.fail(f"--resume takes no overrides (got {' '.join(rest)})")
        return _resume(Path(known.resume), show_progress=not known.no_progress)
    from diamond_wm.data.errors import DatasetError
    from diamond_wm.runtime.distributed import launched_by_torchrun

    try:
        flags, overrides = _split(rest)
        if {"-m", "--multirun"} & set(flags):
            if launched_by_torchrun():
                raise ValueError(
                    "-m/--multirun under torchrun: a sweep's jobs are separate runs; launch one torchrun per run"
                )
            from diamond_wm.cli.sweep import run_sweep

            return run_sweep(flags, overrides, show_progress=not known.no_progress)
        # Validate up front so a misspelled key or a bad value fails in one line, before Hydra starts (and
        # creates the run folder).
        cfg = check_run_overrides(overrides, config_name=config_name(flags))
    except (
        ValueError,
        DatasetError,
    ) as err:  # DatasetError: a static dataset's actions (see check_initialization)
        return _errors.caught(err)  # a checkpoint that does not fit: counted, in one line
    return _run_distributed(cfg.common.devices, rest, flags, overrides, not known.no_progress)


def _run_distributed(
    devices: object, args: list[str], flags: list[str], overrides: list[str], show_progress: bool
) -> int:
    """One run in this process, or in one process per GPU (see `diamond_wm.cli.distributed_launch`)."""
    from diamond_wm.cli import distributed_launch as launch
    from diamond_wm.cli.sweep import run_sweep_job  # what Hydra runs should it be told to sweep

    try:
        code = launch.launch_if_several_devices(devices, ["train", *args], debug=errors.debug_enabled())
        if code is not None:
            return code
        with launch.process_group(devices) as ctx:
            extra = launch.shared_run_dir_overrides(ctx, overrides, config_name(flags))
            return run_hydra(flags + extra, show_progress=show_progress, sweep_job=run_sweep_job)
    except ValueError as err:  # e.g. more processes than GPUs
        return _errors.caught(err)


def published_resume_message(run_dir: Path, marks: list[str]) -> str:
    """One line: a run of the published code cannot be continued here, and the command that starts from its
    weights (its game and networks read from its config/trainer.yaml)."""
    from diamond_wm.training.run_dir import RunDir

    rd = RunDir(run_dir)
    newest = rd.newest_agent_version()
    ckpt = newest if newest is not None else rd.agent_versions / "agent_epoch_XXXXX.pt"
    try:
        keys = " ".join(_published_run_overrides(rd.config_file))
    except Exception:  # an unreadable config: the suggestion keeps placeholders
        keys = "env.train.id=... agent.*=... (the network sizes of its config/trainer.yaml)"
    return (
        f"cannot resume {run_dir}: it is a run of the published DIAMOND code "
        f"({'; '.join(marks)}), whose training state diamond-wm does not read; start a new run from its "
        f"weights instead: diamond train initialization.path_to_ckpt={ckpt} {keys}"
    )


def _published_run_overrides(config_file: Path) -> list[str]:
    """The game and the networks of a published run's config, as `diamond train` overrides."""
    from diamond_wm.config.env import GameConfig
    from diamond_wm.config.published import read_published_trainer_config
    from diamond_wm.loading.agent_config import agent_overrides

    reader = logging.getLogger("diamond_wm.config.published")
    level = reader.level
    reader.setLevel(logging.WARNING)  # its notes on keys we ignore: not for this one-line answer
    try:
        cfg = read_published_trainer_config(config_file)
    finally:
        reader.setLevel(level)
    size = cfg.env.train.size
    sized = [f"env.train.size={size}"] if size != GameConfig().size else []
    return [f"env.train.id={cfg.env.train.id}", *sized, *agent_overrides(cfg.agent, size)]


def _resume(run_dir: Path, show_progress: bool) -> int:
    from diamond_wm.runtime.safe_load import UnreadableFileError, check_zip_archive
    from diamond_wm.training.run_dir import RunDir

    try:  # a cut checkpoint: one line here, rather than torch's traceback from the trainer
        check_zip_archive(run_dir / "checkpoints" / "state.pt")
    except UnreadableFileError as err:
        return _errors.caught(err, f"cannot resume {run_dir}: {err}; restore it from a copy")
    marks = RunDir(run_dir).published_run_marks() if run_dir.is_dir() else []
    if marks:
        return _errors.fail(published_resume_message(run_dir, marks))
    config_file = run_dir / "config" / "trainer.yaml"
    if not config_file.is_file():
        return _errors.fail(f"cannot resume {run_dir}: no run configuration at {config_file}")
    from diamond_wm.config.compose import load_run_config

    try:
        cfg = load_run_config(config_file)
    except ValueError as err:
        return _errors.caught(err, f"{config_file}: {err}")
    cfg.common.resume = True
    from diamond_wm.cli import distributed_launch as launch

    args = ["train", "--resume", str(run_dir), *([] if show_progress else ["--no-progress"])]
    try:
        code = launch.launch_if_several_devices(cfg.common.devices, args, debug=errors.debug_enabled())
        if code is not None:
            return code
        with launch.process_group(cfg.common.devices):  # every rank resumes from checkpoints/state.pt
            return train_run(cfg, run_dir, show_progress)
    except ValueError as err:
        return _errors.caught(err)
