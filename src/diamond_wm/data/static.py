"""Where a static dataset's episodes are: `static_dataset.path` as the published trainer reads it.

The published meaning: the folder holds a `train/` dataset (what the world model trains on) and a `test/` one
(its test losses). A folder that holds episodes directly is accepted too, as the training set, with a notice.
Nothing here writes into the folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from diamond_wm.data.errors import DatasetError
from diamond_wm.data.published_layout import INDEX_FILENAME, read_index, scan_episode_ids


@dataclass(frozen=True)
class StaticDatasetPaths:
    """The training and (optional) test dataset folders of a static dataset, and a notice to log, if any."""

    train: Path
    test: Optional[Path]
    notice: Optional[str] = None


def count_episodes(folder: Path) -> int:
    """Episodes of a dataset folder: from its `info.pt`, else from the episode files present."""
    if (folder / INDEX_FILENAME).is_file():
        return read_index(folder / INDEX_FILENAME).num_episodes
    return len(scan_episode_ids(folder)) if folder.is_dir() else 0


def resolve_static_dataset(path: str | Path) -> StaticDatasetPaths:
    """The datasets of `static_dataset.path`; ValueError (one line, naming the path) when there are none."""
    root = Path(path).expanduser()
    key = f"static_dataset.path={path}"
    expected = "expected a folder holding train/ and test/ datasets (the published layout)"
    if not root.is_dir():
        raise ValueError(f"{key}: folder {root} does not exist; {expected}")
    try:
        if (root / "train").is_dir():
            if count_episodes(root / "train") == 0:
                raise ValueError(f"{key}: the training dataset {root / 'train'} holds no episode")
            test = root / "test"
            return StaticDatasetPaths(root / "train", test if count_episodes(test) > 0 else None)
        if count_episodes(root) > 0:
            notice = (
                f"{key} holds episodes directly, not train/ and test/ datasets: training on them, "
                "with no test dataset (no world-model test losses)"
            )
            return StaticDatasetPaths(root, None, notice)
    except DatasetError as e:
        raise ValueError(f"{key}: {e}") from e
    raise ValueError(f"{key}: {root} holds no episode; {expected}")
