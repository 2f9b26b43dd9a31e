"""`diamond train -m ...`: a Hydra sweep of ordinary run folders that a relaunch resumes.

The sweep folder is `hydra.sweep.dir` when given, else `multirun/<the overrides>`; each job's run folder in it is
named by the values it sweeps (Hydra's `override_dirname` without the keys every job shares), e.g.
`multirun/.../common.seed=1,env.train.id=PongNoFrameskip-v4`. Every path is a function of the command, so the same
command launched again finds its runs: finished ones (`FINISHED`) are skipped, unfinished ones continue from
`checkpoints/state.pt` as with `diamond train --resume`, and a folder holding a run of another configuration is an
error naming it, never overwritten. Every job's overrides are validated before any job starts.

Launchers: Hydra's basic one (one job after the other) by default; `hydra/launcher=joblib` (local processes,
`pip install 'diamond-wm[sweep]'`; on a machine with several GPUs each job without `common.devices` holds one of
its own, see `runtime.job_gpus`) or `hydra/launcher=submitit_slurm` (SLURM, `pip install 'diamond-wm[slurm]'`).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional

from diamond_wm.cli import errors

if TYPE_CHECKING:
    from diamond_wm.config.trainer import TrainerConfig

log = logging.getLogger(__name__)

SWEEPS_ROOT = "multirun"
SINGLE_JOB_SUBDIR = "run"  # the run folder of a sweep of one job without overrides
_MAX_NAME = 100  # characters of a derived sweep folder name; longer ones end with a hash of the overrides

# Launcher name (hydra/launcher=NAME) -> (module of its Hydra plugin, extra of diamond-wm, pip package).
LAUNCHER_PLUGINS: dict[str, tuple[str, str, str]] = {
    "joblib": ("hydra_plugins.hydra_joblib_launcher", "sweep", "hydra-joblib-launcher"),
    "submitit_slurm": ("hydra_plugins.hydra_submitit_launcher", "slurm", "hydra-submitit-launcher"),
    "submitit_local": ("hydra_plugins.hydra_submitit_launcher", "slurm", "hydra-submitit-launcher"),
}
# Keys that may change between two launches of the same sweep: where a run trains and logs, not what it learns.
RELAUNCH_FREE_KEYS = ("common.resume", "common.devices")
RELAUNCH_FREE_PREFIXES = ("wandb.",)
# Hydra settings that name the run folders: the sweep sets them itself so that a relaunch finds its runs.
_FIXED_HYDRA_KEYS = ("hydra.sweep.subdir", "hydra.job.config.override_dirname")
UNFINISHED = 1  # exit code of a sweep with runs that did not finish

NEW, RESUME, FINISHED = "new", "resume", "finished"


@dataclass
class SweepJob:
    """One run of a sweep: its overrides (as Hydra gives them to the job) and its run folder."""

    overrides: list[str]
    name: str  # the run folder's name in the sweep folder (Hydra's override_dirname)
    run_dir: Path
    status: str = NEW  # NEW | RESUME | FINISHED, once checked
    cfg: Optional[TrainerConfig] = None


@dataclass
class SweepPlan:
    """The sweep folder, its jobs, and the Hydra overrides that make Hydra use the same folders."""

    sweep_dir: Path
    jobs: list[SweepJob]
    hydra_overrides: list[str] = field(default_factory=list)
    swept_keys: list[str] = field(default_factory=list)  # the keys whose values differ between jobs

    def count(self, status: str) -> int:
        return sum(j.status == status for j in self.jobs)

    def summary(self) -> str:
        counts = ", ".join(
            f"{n} {what}"
            for what, n in (
                ("new", self.count(NEW)),
                ("to resume", self.count(RESUME)),
                ("finished (skipped)", self.count(FINISHED)),
            )
            if n
        )
        n = len(self.jobs)
        return f"sweep folder {self.sweep_dir}: {n} run{'' if n == 1 else 's'} ({counts})"


class SweepError(ValueError):
    """Bad sweep input: one line per problem (`lines`)."""

    def __init__(self, lines: list[str]) -> None:
        super().__init__(lines[0] if len(lines) == 1 else f"{len(lines)} problems: {lines[0]} ...")
        self.lines = lines


# ---------------------------------------------------------------- launchers


def launcher_name(hydra_overrides: Sequence[str]) -> Optional[str]:
    """The launcher chosen with `hydra/launcher=NAME`, else None (Hydra's basic launcher)."""
    for o in hydra_overrides:
        key, _, value = o.partition("=")
        if key.lstrip("+~") == "hydra/launcher":
            return value
    return None


def check_launcher(name: Optional[str]) -> None:
    """A ValueError saying which pip install brings the launcher `name` when its Hydra plugin is missing."""
    if name is None or name == "basic" or name not in LAUNCHER_PLUGINS:
        return  # basic is built in; Hydra names any other unknown launcher itself
    module, extra, package = LAUNCHER_PLUGINS[name]
    if importlib.util.find_spec(module) is None:
        raise ValueError(
            f"hydra/launcher={name} needs the Hydra {name.split('_')[0]} launcher, which is not installed: "
            f"pip install 'diamond-wm[{extra}]' (or pip install {package})"
        )


# ---------------------------------------------------------------- the plan


def _is_hydra_override(override: str) -> bool:
    key = override.split("=", 1)[0].lstrip("+~")
    return key == "hydra" or key.startswith(("hydra.", "hydra/"))


def split_hydra_overrides(overrides: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the run's overrides, Hydra's own: `hydra.*` and `hydra/...`)."""
    task = [o for o in overrides if not _is_hydra_override(o)]
    return task, [o for o in overrides if _is_hydra_override(o)]


def derived_sweep_dir(task_overrides: Sequence[str], config_name: str, default_config: str) -> Path:
    """`multirun/<config>-<overrides>`: the same command gives the same folder (a long name ends in a hash)."""
    parts = ([] if config_name == default_config else [config_name]) + sorted(task_overrides)
    name = "_".join(parts) or "default"
    name = re.sub(r"[^A-Za-z0-9._,=+-]", "-", name)
    if len(name) > _MAX_NAME:
        digest = hashlib.sha1("\0".join(parts).encode()).hexdigest()[:10]
        name = f"{name[: _MAX_NAME - 11]}-{digest}"
    return Path(SWEEPS_ROOT) / name


def _resolved_sweep_dir(value: str) -> Path:
    """A `hydra.sweep.dir` value, with its interpolations (e.g. `${now:...}`) resolved once, here."""
    if "${" not in value:
        return Path(value)
    import hydra.core.utils  # noqa: F401  registers the `now` resolver
    from omegaconf import OmegaConf

    return Path(str(OmegaConf.create({"dir": value}).dir))


def plan_sweep(
    overrides: Sequence[str],
    config_name: str,
    default_config: str,
    sweep_dir: Optional[Path] = None,
    name_keys: Optional[Sequence[str]] = None,
) -> SweepPlan:
    """The jobs of `overrides` (Hydra's basic sweeper: the product of the swept values) and their run folders.

    A run folder is named by the values of `name_keys` (default: the swept keys; every key when none is
    swept). The folders are computed with Hydra's own expansion and `override_dirname`, which the jobs then
    receive through `hydra.sweep.dir`, `hydra.sweep.subdir` and the excluded keys of `override_dirname`."""
    from hydra._internal.config_loader_impl import get_overrides_dirname
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    task, hydra_overrides = split_hydra_overrides(overrides)
    fixed = [o for o in hydra_overrides if o.split("=", 1)[0].lstrip("+~").startswith(_FIXED_HYDRA_KEYS)]
    if fixed:
        raise ValueError(
            f"{fixed[0]}: a sweep names each run folder after the values it sweeps (so that a relaunch finds "
            "its runs); choose where the sweep goes with hydra.sweep.dir=DIR"
        )
    rest = []
    for o in hydra_overrides:
        if o.split("=", 1)[0] == "hydra.sweep.dir":
            sweep_dir = _resolved_sweep_dir(o.split("=", 1)[1])
        else:
            rest.append(o)
    if sweep_dir is None:
        sweep_dir = derived_sweep_dir(task, config_name, default_config)

    parser = OverridesParser.create()
    parsed = parser.parse_overrides(task)
    swept = [o.key_or_group for o in parsed if o.is_sweep_override()]
    if name_keys is None:  # keys every job shares name the sweep, not its runs (unless nothing is swept)
        name_keys = swept or [o.key_or_group for o in parsed]
    exclude = [o.key_or_group for o in parsed if o.key_or_group not in name_keys]
    [expanded] = BasicSweeper.split_arguments(parsed, None)
    jobs = []
    for job_overrides in expanded:
        name = get_overrides_dirname(
            parser.parse_overrides(job_overrides), exclude_keys=exclude, item_sep=",", kv_sep="="
        )
        jobs.append(
            SweepJob(list(job_overrides), name or SINGLE_JOB_SUBDIR, sweep_dir / (name or SINGLE_JOB_SUBDIR))
        )
    names = [j.name for j in jobs]
    if len(set(names)) != len(names):  # e.g. common.seed=1,1
        dup = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"the sweep lists the run {dup} more than once: give each swept value once")
    exclude_list = "[" + ",".join(exclude) + "]"
    rest += [
        f"hydra.sweep.dir={_quoted(str(sweep_dir))}",
        "hydra.sweep.subdir="
        + (SINGLE_JOB_SUBDIR if names == [SINGLE_JOB_SUBDIR] else "${hydra.job.override_dirname}"),
        f"hydra.job.config.override_dirname.exclude_keys={exclude_list}",
    ]
    return SweepPlan(sweep_dir, jobs, rest, swept)


def _quoted(value: str) -> str:
    """`value` as one quoted string of Hydra's override grammar (`=`, `,` and spaces kept as they are)."""
    return "'" + value.replace("'", "\\'") + "'"  # a backslash escapes only a quote in Hydra's grammar


# ---------------------------------------------------------------- what a run folder holds


def _flat(cfg: TrainerConfig) -> dict[str, object]:
    from omegaconf import OmegaConf

    out: dict[str, object] = {}

    def walk(node: object, prefix: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            out[prefix[:-1]] = node

    walk(OmegaConf.to_container(OmegaConf.structured(cfg)), "")
    return out


def config_difference(saved: TrainerConfig, wanted: TrainerConfig) -> Optional[str]:
    """The first setting in which a run folder's configuration differs from a job's, else None. Where the run
    trains and logs may change (see RELAUNCH_FREE_KEYS), and a job without a seed takes the run's."""
    a, b = _flat(saved), _flat(wanted)
    for key in sorted(set(a) | set(b)):
        if key in RELAUNCH_FREE_KEYS or key.startswith(RELAUNCH_FREE_PREFIXES):
            continue
        if key == "common.seed" and b.get(key) is None:
            continue
        if a.get(key, "<absent>") != b.get(key, "<absent>"):
            return f"{key} is {a.get(key, '<absent>')!r} there, {b.get(key, '<absent>')!r} in this sweep"
    return None


def run_folder_status(run_dir: Path, cfg: TrainerConfig) -> str:
    """NEW, RESUME or FINISHED for the job of configuration `cfg` whose run folder is `run_dir`; a ValueError
    naming the folder when it holds a run of another configuration (or of the published code)."""
    from diamond_wm.config.compose import load_run_config
    from diamond_wm.training.run_dir import RunDir

    rd = RunDir(run_dir)
    if not rd.config_file.is_file():
        return NEW  # nothing yet, or a start interrupted before its configuration was written
    marks = rd.published_run_marks()
    if marks:
        raise ValueError(
            f"{run_dir} holds a run of the published DIAMOND code ({'; '.join(marks)}), not this sweep's"
        )
    try:
        saved = load_run_config(rd.config_file)
    except ValueError as err:
        raise ValueError(f"{rd.config_file}: {err}") from err
    diff = config_difference(saved, cfg)
    if diff is not None:
        raise ValueError(
            f"{run_dir} holds a run of another configuration ({diff}): give this sweep another folder "
            "(hydra.sweep.dir=DIR) or move that run away"
        )
    return FINISHED if rd.is_finished else RESUME


def check_jobs(plan: SweepPlan, config_of: Callable[[SweepJob], TrainerConfig]) -> None:
    """Validate every job's overrides and run folder before any starts: a SweepError with one line per bad
    job (one line in all when every job fails the same way)."""
    problems: dict[str, list[str]] = {}
    for job in plan.jobs:
        try:
            job.cfg = config_of(job)
            job.status = run_folder_status(job.run_dir, job.cfg)
        except Exception as err:
            described = errors.describe(err)
            if described is None or errors.debug_enabled():
                raise
            problems.setdefault(described[0], []).append(job.name)
    if not problems:
        return
    lines = []
    for text, names in problems.items():
        if len(names) == len(plan.jobs) and len(names) > 1 or text.startswith(str(plan.sweep_dir)):
            lines.append(text)  # the same for every job, or it names the job's folder
        else:
            lines.append(f"run {names[0]}{f' (and {len(names) - 1} more)' if len(names) > 1 else ''}: {text}")
    raise SweepError(lines)


# ---------------------------------------------------------------- one job, in whichever process runs it


def run_sweep_job(cfg: TrainerConfig, run_dir: Path, show_progress: bool) -> int:
    """Run, resume or skip one job of a sweep; returns its exit code. A Ctrl-C ends the whole sweep."""
    from hydra.core.hydra_config import HydraConfig

    from diamond_wm.cli.hydra_run import train_run
    from diamond_wm.runtime.job_gpus import job_devices
    from diamond_wm.runtime.logs import setup_logging

    setup_logging()  # a launcher's worker process starts without the CLI's logging
    try:
        status = run_folder_status(run_dir, cfg)
    except ValueError as err:
        return errors.report("train", err)
    if status == FINISHED:
        log.info("%s: finished already, skipped", run_dir)
        return 0
    if status == RESUME:
        from diamond_wm.config.compose import load_run_config
        from diamond_wm.training.run_dir import RunDir

        rd = RunDir(run_dir)
        if cfg.common.seed is None:  # the seed the run drew
            cfg.common.seed = load_run_config(rd.config_file).common.seed
        if rd.state_file.is_file():
            log.info("%s: unfinished, resuming from its last checkpoint", run_dir)
        else:  # stopped before its first checkpoint: the trainer starts it over
            log.info("%s: unfinished before its first checkpoint, starting over", run_dir)
        cfg.common.resume = True
    with job_devices(cfg.common.devices, HydraConfig.get().job.num) as cfg.common.devices:  # one GPU per job
        code = train_run(cfg, run_dir, show_progress)
    if code == errors.INTERRUPTED:
        raise KeyboardInterrupt(f"sweep stopped at {run_dir}; launch the same command again to continue")
    return code


# ---------------------------------------------------------------- the command


def run_sweep(
    flags: list[str],
    overrides: list[str],
    show_progress: bool,
    *,
    dry_run: bool = False,
    command: str = "train",
    sweep_dir: Optional[Path] = None,
    name_keys: Optional[Sequence[str]] = None,
) -> int:
    """Plan, check and launch the sweep of `overrides` (`flags`: Hydra's, with -m); 0 when every run finished."""
    from diamond_wm.cli.hydra_run import check_run_config, config_name, run_hydra
    from diamond_wm.config.compose import TRAINER_CONFIG_NAME, SweepComposer

    name = config_name(flags)
    try:
        task, hydra_overrides = split_hydra_overrides(overrides)
        check_launcher(launcher_name(hydra_overrides))
        plan = plan_sweep(overrides, name, TRAINER_CONFIG_NAME, sweep_dir, name_keys)
        composer = SweepComposer(name)
        check_jobs(plan, lambda job: check_run_config(composer.compose(job.overrides, plan.swept_keys)))
    except SweepError as err:
        return errors.CommandErrors(f"diamond {command}").caught(err, *err.lines)
    print(plan.summary(), file=sys.stderr, flush=True)
    if dry_run:
        for job in plan.jobs:
            print(f"{job.status:<9} {job.run_dir}")
        return 0
    if plan.count(FINISHED) == len(plan.jobs):
        return 0
    code = run_hydra(
        flags + task + plan.hydra_overrides, show_progress=show_progress, sweep_job=run_sweep_job
    )
    return max(code, report_outcome(plan, command))


def report_outcome(plan: SweepPlan, command: str) -> int:
    """One line: how many runs finished; the unfinished ones named, with how to continue them."""
    from diamond_wm.training.run_dir import RunDir

    unfinished = [j.run_dir for j in plan.jobs if not RunDir(j.run_dir).is_finished]
    if not unfinished:
        n = len(plan.jobs)
        print(f"{plan.sweep_dir}: {'the run' if n == 1 else f'all {n} runs'} finished", file=sys.stderr)
        return 0
    shown = ", ".join(str(p) for p in unfinished[:3]) + (" ..." if len(unfinished) > 3 else "")
    return errors.CommandErrors(f"diamond {command}").fail(
        f"{len(unfinished)} of {len(plan.jobs)} runs did not finish ({shown}): launch the same command again to "
        "resume them",
        code=UNFINISHED,
    )
