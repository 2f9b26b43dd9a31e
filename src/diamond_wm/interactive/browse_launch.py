"""Building dataset mode (`diamond play -d`): the datasets under a run folder, a dataset folder or the OUT of
`diamond dataset`, opened read-only for a `DatasetBrowser`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.published_layout import INDEX_FILENAME, episode_relpath
from diamond_wm.interactive.dataset_browser import DatasetBrowser
from diamond_wm.loading.agent import LoadError

log = logging.getLogger(__name__)


def dataset_folders(root: Path) -> list[Path]:
    """Folders under `root` (any depth) holding an `info.pt` or episode files at their published-layout place
    (`aaa/bb/c/<id>.pt`; the published code may leave a test dataset without its `info.pt`), sorted."""
    found = {index.parent for index in root.rglob(INDEX_FILENAME)}
    for p in root.rglob("*.pt"):
        if p.stem.isdigit() and len(p.relative_to(root).parts) >= 4:
            folder = p.parents[3]
            if p.relative_to(folder) == episode_relpath(int(p.stem)):
                found.add(folder)
    return sorted(found)


def static_dataset_path(base: Path) -> Optional[Path]:
    """The recorded play a world-model-only run trained on (its `static_dataset.path`), when `base` is such a run
    folder and the dataset is found (`loading.static_run`)."""
    if not (base / "config" / "trainer.yaml").is_file():
        return None
    try:
        from diamond_wm.loading.agent import read_run_config
        from diamond_wm.loading.static_run import candidate_folders, static_path

        path = static_path(read_run_config(base))
    except Exception:  # an unreadable config: nothing to add to dataset mode
        return None
    found = [f for f in candidate_folders(path, base) if f.is_dir()] if path is not None else []
    return found[0] if found else None


def dataset_roots(base: str | Path) -> list[Path]:
    """Where dataset mode looks, in turn, until one holds episodes: `<base>/dataset/` (a run's datasets), the
    static dataset a world-model-only run trained on, and `base` itself when it is a dataset, a folder of train/
    and test/ datasets, or the OUT of `diamond dataset`."""
    base = Path(base)
    static = static_dataset_path(base)
    # `base` itself only when it is made of datasets: not a search of whatever folder play was started in.
    marks = (base / "conversion.json", base / INDEX_FILENAME, base / "train" / INDEX_FILENAME)
    own = [base] if any(p.is_file() for p in marks) else []
    return [base / "dataset", *([static] if static is not None else []), *own]


def find_datasets(base: str | Path) -> list[tuple[str, EpisodeDataset]]:
    """Every dataset folder under the first of `dataset_roots(base)` that holds episodes (any depth), by name
    relative to it, sorted. Opened read-only: a folder without `info.pt` is indexed in memory from its episode
    files, nothing is written."""
    for root in dataset_roots(base):
        found = _datasets_under(root) if root.is_dir() else []
        if found:
            return found
    return []


def _datasets_under(root: Path) -> list[tuple[str, EpisodeDataset]]:
    found = []
    for d in dataset_folders(root):
        name = d.relative_to(root).as_posix() if d != root else root.name
        try:
            ds = EpisodeDataset(d, name=name, read_only=True, cache_in_ram=False)
        except Exception as e:  # an unreadable dataset is skipped, not fatal
            log.warning("skipping dataset %s: %s", d, str(e).splitlines()[0])
            continue
        if ds.num_episodes > 0:
            found.append((name, ds))
    return found


def build_dataset_browser(base: str | Path, action_names: Optional[list[str]] = None) -> DatasetBrowser:
    """Dataset mode over every dataset found by `find_datasets`; LoadError naming the folder when there is none."""
    root = Path(base) / "dataset"
    datasets = find_datasets(base)
    if not datasets:
        what = "does not exist" if not root.is_dir() else "holds no dataset with episodes"
        raise LoadError(f"no dataset to browse: {root.resolve()} {what}, nor does {Path(base).resolve()}")
    return DatasetBrowser(datasets, action_names)
