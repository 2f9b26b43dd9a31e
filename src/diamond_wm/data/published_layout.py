"""The folder layout of a dataset, the same as the published implementation's, so that each reads the other's.

    <root>/info.pt                      the index (see `DatasetIndex`)
    <root>/<aaa>/<bb>/<c>/<id>.pt       one file per episode (see `diamond_wm.data.episode`)
    <root>/action_spec.json             diamond-wm only: the actions' spec (see `diamond_wm.data.dataset`)

with aaa = id // 100 * 100 % 1000 (3 digits), bb = id % 100 // 10 * 10 (2 digits), c = id % 10: episode 1234
lives at `200/30/4/1234.pt`.

`info.pt` is the published `Dataset.state_dict()`: exactly the keys `is_static`, `num_episodes`, `num_steps`,
`start_idx` (numpy int64), `lengths` (numpy int64), `counter_rew` and `counter_end` (`collections.Counter` of the
reward signs -1/0/1 and of the end flags 0/1). We write the same types, so that the published tools can load and
extend our datasets. Reading uses `torch.load(weights_only=True)`: `Counter` is allow-listed by torch; the numpy
arrays need the numpy allow-list of `diamond_wm.data.storage.load_pt` (plain numeric arrays only). Counters that
are missing or of an unexpected type are rebuilt from the episode files by the dataset.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from diamond_wm.data.errors import IndexFileError
from diamond_wm.data.storage import atomic_save_pt, load_pt
from diamond_wm.runtime.safe_load import UnreadableFileError, UnsafePickleError

log = logging.getLogger(__name__)

INDEX_FILENAME = "info.pt"
INDEX_KEYS = ("is_static", "num_episodes", "num_steps", "start_idx", "lengths", "counter_rew", "counter_end")
_EPISODE_RE = re.compile(r"^(\d+)\.pt$")


def episode_relpath(episode_id: int) -> Path:
    """Path of an episode file relative to the dataset folder, e.g. 1234 -> `200/30/4/1234.pt`."""
    if isinstance(episode_id, bool) or not isinstance(episode_id, (int, np.integer)) or episode_id < 0:
        raise ValueError(f"episode_id must be a non-negative integer, got {episode_id!r}")
    i = int(episode_id)
    return Path(f"{i // 100 * 100 % 1000:03d}") / f"{i % 100 // 10 * 10:02d}" / f"{i % 10}" / f"{i}.pt"


def scan_episode_ids(root: str | Path) -> list[int]:
    """Ids of the episode files present under `root` at their expected place, sorted."""
    root = Path(root)
    ids = []
    for p in root.glob("*/*/*/*.pt"):
        m = _EPISODE_RE.match(p.name)
        if m and p.relative_to(root) == episode_relpath(int(m.group(1))):
            ids.append(int(m.group(1)))
    return sorted(ids)


def iter_episode_paths(root: str | Path, num_episodes: int) -> Iterator[Path]:
    """The paths of episodes 0 .. num_episodes - 1."""
    for i in range(num_episodes):
        yield Path(root) / episode_relpath(i)


@dataclass
class DatasetIndex:
    """What `info.pt` holds. `counter_rew` keys are the reward signs -1, 0, 1; `counter_end` keys are 0, 1.

    The counters are None when the file did not hold usable ones (they are then rebuilt from the episodes).
    """

    lengths: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    counter_rew: Optional[Counter] = None
    counter_end: Optional[Counter] = None
    is_static: bool = False

    @property
    def num_episodes(self) -> int:
        return len(self.lengths)

    @property
    def num_steps(self) -> int:
        return int(self.lengths.sum())

    @property
    def start_idx(self) -> np.ndarray:
        """Index of the first step of each episode in the concatenation of all episodes."""
        return np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)[: self.num_episodes]


def _as_int_array(x: Any, name: str, path: Path) -> np.ndarray:
    if torch.is_tensor(x):
        x = x.numpy()
    try:
        arr = np.asarray(x, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError) as e:
        raise IndexFileError(path, f"`{name}` is not an array of integers ({type(x).__name__})") from e
    return arr


def _as_counter(x: Any, keys: tuple[int, ...]) -> Optional[Counter]:
    """A Counter with integer keys from a Counter/dict saved by either implementation; None if unusable."""
    if not isinstance(x, dict):
        return None
    c: Counter = Counter({k: 0 for k in keys})
    for k, v in x.items():
        try:
            key = int(float(k))
        except (TypeError, ValueError):
            return None
        if key not in keys:
            return None
        c[key] += int(v)
    return c


def read_index(path: str | Path) -> DatasetIndex:
    """Read `info.pt` (ours or the published one). Raises `IndexFileError` naming the file when unusable."""
    path = Path(path)
    try:
        d = load_pt(path, allow_numpy=True)
    except UnsafePickleError as e:
        raise IndexFileError(path, f"refusing to load it: {e.reason}") from None
    except UnreadableFileError as e:
        raise IndexFileError(path, f"unreadable: {e.reason}") from None
    except OSError as e:
        raise IndexFileError(path, f"unreadable: {e.strerror or e}") from e
    if not isinstance(d, dict) or "lengths" not in d:
        found = sorted(d) if isinstance(d, dict) else type(d).__name__
        raise IndexFileError(path, f"expected a dict with keys {list(INDEX_KEYS)}, found {found}")
    lengths = _as_int_array(d["lengths"], "lengths", path)
    if (lengths < 1).any():
        raise IndexFileError(path, f"episode lengths must be >= 1, found {lengths[lengths < 1][:5].tolist()}")
    num_episodes = d.get("num_episodes", len(lengths))
    num_steps = d.get("num_steps", int(lengths.sum()))
    if int(num_episodes) != len(lengths) or int(num_steps) != int(lengths.sum()):
        raise IndexFileError(
            path,
            f"inconsistent: num_episodes={num_episodes}, num_steps={num_steps} but {len(lengths)} lengths "
            f"summing to {int(lengths.sum())}",
        )
    if "start_idx" in d:
        start_idx = _as_int_array(d["start_idx"], "start_idx", path)
        expected = DatasetIndex(lengths).start_idx
        if not np.array_equal(start_idx, expected):
            raise IndexFileError(path, "start_idx does not match the cumulative episode lengths")
    index = DatasetIndex(
        lengths=lengths,
        counter_rew=_as_counter(d.get("counter_rew"), (-1, 0, 1)),
        counter_end=_as_counter(d.get("counter_end"), (0, 1)),
        is_static=bool(d.get("is_static", False)),
    )
    if index.counter_rew is None or index.counter_end is None:
        log.warning(
            "%s: reward/end counters missing or unreadable; they will be rebuilt from the episodes", path
        )
    return index


def write_index(path: str | Path, index: DatasetIndex) -> None:
    """Write `info.pt` atomically with exactly the published keys and types."""
    d = {
        "is_static": bool(index.is_static),
        "num_episodes": index.num_episodes,
        "num_steps": index.num_steps,
        "start_idx": index.start_idx,
        "lengths": np.asarray(index.lengths, dtype=np.int64).copy(),
        "counter_rew": Counter(index.counter_rew or {}),
        "counter_end": Counter(index.counter_end or {}),
    }
    atomic_save_pt(d, path)
