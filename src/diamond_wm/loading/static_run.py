"""The recorded play a run trained on, when it trained on a static dataset (`static_dataset.path`): where `diamond
play` and `diamond eval drift` take real contexts from for such a run, instead of a real game it never used.

`static_dataset.path` is kept in the run's config as given to `diamond train`, so a relative path is relative to
the folder training ran in: it is looked for from the current folder first, then from the run folder's parents.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.static import StaticDatasetPaths, resolve_static_dataset
from diamond_wm.loading.agent import LoadError

log = logging.getLogger(__name__)


def static_path(cfg: Optional[TrainerConfig]) -> Optional[str]:
    """The run's `static_dataset.path`, or None for a run that collected its own episodes."""
    if cfg is None or cfg.static_dataset is None:
        return None
    path = cfg.static_dataset.path
    return str(path) if path not in (None, "") else None


def candidate_folders(path: str, run_dir: Optional[Path]) -> list[Path]:
    """Where `static_dataset.path` may be now: as given, then under each parent of the run folder (relative paths)."""
    given = Path(path).expanduser()
    found = [given]
    if not given.is_absolute() and run_dir is not None:
        found += [parent / given for parent in Path(run_dir).resolve().parents]
    return found


def run_static_dataset(run_dir: Optional[Path], cfg: Optional[TrainerConfig]) -> Optional[StaticDatasetPaths]:
    """The train/test folders of the static dataset the run trained on; None for a run that collected its own
    episodes; LoadError in one line when the run trained on one that is not found any more."""
    path = static_path(cfg)
    if path is None:
        return None
    for folder in candidate_folders(path, run_dir):
        if folder.is_dir():
            try:
                paths = resolve_static_dataset(folder)
            except ValueError as e:
                raise LoadError(f"the run {run_dir} trained on {str(e).splitlines()[0]}") from e
            if folder != Path(path).expanduser():
                log.info("static_dataset.path=%s found at %s", path, folder)
            return paths
    where = f"{Path.cwd()}" + (f" nor from the parents of {run_dir}" if not Path(path).is_absolute() else "")
    raise LoadError(
        f"the run {run_dir} trained on static_dataset.path={path}, which is not found from {where}: run this "
        "from the folder training ran in, or put the dataset back there"
    )


def contexts_folder(paths: StaticDatasetPaths) -> Path:
    """The dataset real contexts come from: the test split, else the training split."""
    return paths.test if paths.test is not None else paths.train
