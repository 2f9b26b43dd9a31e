"""Final scores of finished Atari 100k runs, from what a user has at hand.

A path given to `collect` may be:

- a run folder of ours: its game is `env.test.id` (else `env.train.id`) of `config/trainer.yaml`, its seed
  `common.seed`, its score `final/return_mean` of `FINISHED` (the mean return of the final test episodes);
- a run folder of the published code (`.run_is_over`): it logged its final score to W&B only, so it is reported
  with the `diamond eval` command that scores it;
- a folder of runs (`outputs/`, a Hydra sweep folder): every run folder beneath it;
- a `diamond eval` JSON report (`env_id`, `return_mean`): one run;
- a JSON file in the published `results/data/DIAMOND.json` shape (game -> final returns): one run per value.

Whatever cannot be used (unfinished run, game outside Atari 100k, unreadable file) comes back as one line in
`Collected.skipped`, never dropped silently; `Collected.notes` says what was used but differs from the paper's
protocol (fewer than 100 final episodes, epsilon > 0).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from diamond_wm.config.atari_100k import ATARI_100K_GAMES, game_of, not_atari_100k
from diamond_wm.results.scores import PAPER_NUM_FINAL_EPISODES
from diamond_wm.training.run_dir import RunDir


@dataclass(frozen=True)
class RunScore:
    """The final score of one run of one game."""

    game: str
    score: float
    source: str  # the run folder or file, as given (plus `[Game][i]` for a value of a scores file)
    seed: Optional[int] = None
    num_episodes: Optional[int] = None


@dataclass
class Collected:
    """The runs found, and one line for each thing that was not used or differs from the protocol."""

    runs: list[RunScore] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_game(self) -> dict[str, list[RunScore]]:
        """Runs per game, in the 26 games' order; within a game by seed (unknown seeds last), then source."""
        out: dict[str, list[RunScore]] = {}
        for game in ATARI_100K_GAMES:
            runs = [r for r in self.runs if r.game == game]
            if runs:
                out[game] = sorted(runs, key=lambda r: (r.seed is None, r.seed or 0, r.source))
        return out


def is_run_folder(path: Path) -> bool:
    """A training run folder (ours or the published code's)."""
    run = RunDir(path)
    return run.config_file.is_file() or run.checkpoints.is_dir() or run.is_finished


def find_run_folders(root: Path) -> list[Path]:
    """The run folders at or beneath `root` (not looking inside a run folder), sorted."""
    found = []
    for dirpath, dirnames, _ in os.walk(root):
        if is_run_folder(Path(dirpath)):
            found.append(Path(dirpath))
            dirnames[:] = []
        else:
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
    return sorted(found)


def collect(paths: list[Path]) -> Collected:
    """The final scores found at `paths` (see the module docstring)."""
    out = Collected()
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            out.skipped.append(f"{path}: no such file or folder")
        elif path.is_file():
            _add_once(path, seen, out, _read_json_file)
        elif is_run_folder(path):
            _add_once(path, seen, out, _read_run)
        else:
            runs = find_run_folders(path)
            if not runs:
                out.skipped.append(f"{path}: no run folder in it (config/trainer.yaml, FINISHED)")
            for run in runs:
                _add_once(run, seen, out, _read_run)
    return out


def _add_once(path: Path, seen: set[Path], out: Collected, read) -> None:
    key = path.resolve()
    if key in seen:
        out.notes.append(f"{path}: given more than once, counted once")
        return
    seen.add(key)
    read(path, out)


def _run_env_id_and_seed(run: RunDir) -> tuple[Optional[str], Optional[int]]:
    """`env.test.id` (else `env.train.id`) and `common.seed` of a run's config, ours or the published code's."""
    from omegaconf import OmegaConf

    cfg = OmegaConf.load(run.config_file)
    env_id = OmegaConf.select(cfg, "env.test.id", default=None) or OmegaConf.select(
        cfg, "env.train.id", default=None
    )
    seed = OmegaConf.select(cfg, "common.seed", default=None)
    return (None if env_id is None else str(env_id)), (
        int(seed) if isinstance(seed, int) and not isinstance(seed, bool) else None
    )


def _read_run(path: Path, out: Collected) -> None:
    run = RunDir(path)
    if not run.config_file.is_file():
        out.skipped.append(f"{path}: no config/trainer.yaml, so its game is unknown")
        return
    try:
        env_id, seed = _run_env_id_and_seed(run)
    except Exception as e:  # YAML or interpolation errors: one line naming the file
        out.skipped.append(f"{run.config_file}: unreadable ({_first_line(e)})")
        return
    if env_id is None:
        out.skipped.append(f"{run.config_file}: no env.test.id nor env.train.id, so its game is unknown")
        return
    game = game_of(env_id)
    if game is None:
        out.skipped.append(f"{path}: {not_atari_100k(env_id)}")
        return
    what = f"{path} ({game}{'' if seed is None else f', seed {seed}'})"
    if not run.finished_marker.is_file():
        if run.published_finished_marker.exists():
            out.skipped.append(
                f"{what}: a run of the published code, which logs its final score to W&B only; "
                f"`diamond eval {path} --json FILE` scores its last agent in a report this command reads"
            )
        else:
            out.skipped.append(
                f"{what}: not finished (no FINISHED); continue it with `diamond train --resume {path}`"
            )
        return
    try:
        final = json.loads(run.finished_marker.read_text() or "{}")
    except (OSError, ValueError) as e:
        out.skipped.append(f"{run.finished_marker}: unreadable ({_first_line(e)})")
        return
    returns = final.get("final/returns") if isinstance(final, dict) else None
    mean = final.get("final/return_mean") if isinstance(final, dict) else None
    if mean is None and isinstance(returns, list) and returns:
        mean = sum(returns) / len(returns)
    if not _is_number(mean):
        out.skipped.append(
            f"{what}: finished without final test episodes (no final/return_mean in FINISHED: a static-dataset "
            "run, or collection.test.num_final_episodes=0)"
        )
        return
    n = len(returns) if isinstance(returns, list) else None
    if n is not None and n != PAPER_NUM_FINAL_EPISODES:
        out.notes.append(f"{what}: score over {n} final episodes (the paper's: {PAPER_NUM_FINAL_EPISODES})")
    out.runs.append(RunScore(game, float(mean), str(path), seed, n))


def _read_json_file(path: Path, out: Collected) -> None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        out.skipped.append(f"{path}: not a JSON file ({_first_line(e)})")
        return
    if isinstance(data, dict) and "env_id" in data and "return_mean" in data:
        _read_eval_report(path, data, out)
    elif isinstance(data, dict) and data and all(isinstance(v, list) for v in data.values()):
        _read_scores_file(path, data, out)
    else:
        out.skipped.append(
            f"{path}: neither a diamond eval report (env_id, return_mean) nor a game -> final returns mapping "
            "(the published DIAMOND.json shape)"
        )


def _read_eval_report(path: Path, report: dict[str, Any], out: Collected) -> None:
    env_id, mean = str(report["env_id"]), report["return_mean"]
    game = game_of(env_id)
    if game is None:
        out.skipped.append(f"{path}: {not_atari_100k(env_id)}")
        return
    if not _is_number(mean):
        out.skipped.append(f"{path}: return_mean is {mean!r}, expected a number")
        return
    n = report.get("num_episodes")
    n = int(n) if _is_number(n) else None
    if n is not None and n != PAPER_NUM_FINAL_EPISODES:
        out.notes.append(
            f"{path} ({game}): score over {n} episodes (the paper's: {PAPER_NUM_FINAL_EPISODES})"
        )
    epsilon = report.get("epsilon")
    if _is_number(epsilon) and epsilon != 0:
        out.notes.append(f"{path} ({game}): episodes played with epsilon {epsilon} (the paper's: 0)")
    out.runs.append(RunScore(game, float(mean), str(path), None, n))


def _read_scores_file(path: Path, data: dict[str, list], out: Collected) -> None:
    for game, values in data.items():
        if game not in ATARI_100K_GAMES:
            out.skipped.append(
                f"{path}: {game!r} is not one of the 26 Atari 100k games ({', '.join(ATARI_100K_GAMES)})"
            )
            continue
        for i, value in enumerate(values):
            if _is_number(value):
                out.runs.append(RunScore(game, float(value), f"{path}[{game}][{i}]"))
            else:
                out.skipped.append(f"{path}: {game}[{i}] is {value!r}, expected a number")


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
