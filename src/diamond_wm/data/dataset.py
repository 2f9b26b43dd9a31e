"""`EpisodeDataset`: episodes in a folder (published layout) and/or in RAM, with an index and reward/end counters.

A dataset is a folder that can be closed and reopened: every episode is written atomically, then the index
(`info.pt`) is rewritten atomically, so a crash leaves the previous consistent state or the new one. If the index
is older than the episode files (a crash between the two writes, or a run resumed from an older checkpoint), the
index wins: episode files beyond it are ignored and an episode that was extended after it is read back cut to its
indexed length, exactly as it was then.

Frames are uint8 in RAM and on disk (3 x 64 x 64 bytes per step: 1.23 GB for 100k steps, see docs/memory.md).

The action spec (discrete or multi-hot, `diamond_wm.config.actions`) is kept in `action_spec.json` beside `info.pt`
(the published layout has no place for it; the published code ignores the file). Datasets without it (the
published code's, older ones) read as before: their spec is unknown until given, or inferred from their episodes
(`diamond_wm.data.action_specs`). A read-only dataset is never written, the spec file included.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter, OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np

from diamond_wm.config.actions import ACTION_SPEC_FILENAME, ActionSpec, read_action_spec, write_action_spec
from diamond_wm.data.action_specs import check_actions
from diamond_wm.data.dataset_writes import END_VALUES, REW_SIGNS, EpisodeWrites, _count
from diamond_wm.data.episode import Episode, EpisodeFile
from diamond_wm.data.errors import DatasetError, EpisodeFileError, ReadOnlyDatasetError
from diamond_wm.data.published_layout import (
    INDEX_FILENAME,
    DatasetIndex,
    episode_relpath,
    read_index,
    scan_episode_ids,
    write_index,
)

log = logging.getLogger(__name__)

# Episode files kept open for partial reads (a few hundred bytes each: where each field lies in the file).
OPEN_FILES = 4096


class EpisodeDataset(EpisodeWrites):
    """Episodes, their lengths and the counts of reward signs and ends.

    Args:
        directory: the dataset folder (created when missing; opened and indexed when present). None keeps the
            dataset in RAM only.
        name: a label for logs (default: the folder name, or "dataset").
        cache_in_ram: keep every episode in RAM once read or written (required when `directory` is None).
            Without it, episodes are read from disk at each access.
        read_only: refuse writes (a static dataset, e.g. one recorded by the published implementation).
        autosave_index: rewrite `info.pt` after each change (else call `save_index()` / `close()`).
        rebuild_index: ignore `info.pt` and rebuild the index and counters from the episode files found.
        action_spec: the actions of its episodes (see `set_action_spec`); None keeps the recorded one, if any.
        follower: a read-only view of a folder that another process writes (multi-process training: rank 0
            collects, the other ranks read its episodes). Nothing is read when opening: the index comes from
            `follow_index(lengths)`, the writer's. Not static (its sample weights apply).
        quiet: do not log the opened dataset (a second view of one the log named already, e.g. a data-loader
            worker's, opened again at every training phase).
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        *,
        name: Optional[str] = None,
        cache_in_ram: bool = True,
        read_only: bool = False,
        autosave_index: bool = True,
        rebuild_index: bool = False,
        action_spec: Optional[ActionSpec] = None,
        follower: bool = False,
        quiet: bool = False,
    ) -> None:
        if follower and directory is None:
            raise ValueError("a follower dataset needs the directory of the dataset it follows")
        if directory is None and not cache_in_ram:
            raise ValueError("a dataset without a directory must have cache_in_ram=True")
        self.directory = Path(directory).expanduser() if directory is not None else None
        self.name = name or (self.directory.name if self.directory is not None else "dataset")
        self.cache_in_ram = cache_in_ram
        self.read_only = read_only or follower
        self.follower = follower
        self.autosave_index = autosave_index
        self._cache: dict[int, Episode] = {}
        self._files: OrderedDict[int, EpisodeFile] = OrderedDict()  # partial reads, least recently used first
        self._lengths: list[int] = []
        self._lengths_np: Optional[np.ndarray] = None
        self._is_static = False
        self._frame_shape: Optional[tuple[int, int, int]] = None
        self._action_spec: Optional[ActionSpec] = None
        self._recorded_spec: Optional[ActionSpec] = None  # what the folder's action_spec.json holds
        self.counter_rew: Counter = Counter({v: 0 for v in REW_SIGNS})
        self.counter_end: Counter = Counter({v: 0 for v in END_VALUES})
        if self.directory is not None and not follower:
            self._open(rebuild_index, quiet)
        if action_spec is not None:
            self.set_action_spec(action_spec)

    # ------------------------------------------------------------------ opening and index

    @property
    def index_path(self) -> Optional[Path]:
        """`<directory>/info.pt`, or None for a RAM-only dataset."""
        return self.directory / INDEX_FILENAME if self.directory is not None else None

    def _open(self, rebuild_index: bool, quiet: bool = False) -> None:
        assert self.directory is not None and self.index_path is not None
        if self.read_only and not self.directory.is_dir():
            raise FileNotFoundError(f"dataset folder {self.directory} does not exist")
        try:
            self._recorded_spec = self._action_spec = read_action_spec(self.directory / ACTION_SPEC_FILENAME)
        except ValueError as e:
            raise DatasetError(str(e)) from e
        if self.index_path.is_file() and not rebuild_index:
            index = read_index(self.index_path)
            self._lengths = index.lengths.tolist()
            self._is_static = index.is_static
            on_disk = scan_episode_ids(self.directory)
            if on_disk and on_disk[-1] >= len(self._lengths):
                log.warning(
                    "%s: %d episode file(s) beyond the %d indexed episodes are ignored (written after the index)",
                    self.directory,
                    sum(i >= len(self._lengths) for i in on_disk),
                    len(self._lengths),
                )
            if index.counter_rew is None or index.counter_end is None:
                self.recompute_counters()
            else:
                self.counter_rew, self.counter_end = index.counter_rew, index.counter_end
        else:
            ids = scan_episode_ids(self.directory) if self.directory.is_dir() else []
            if ids:
                self._rebuild(ids)
        if not quiet:
            log.info("%s", self)

    def _rebuild(self, ids: list[int]) -> None:
        """Index the contiguous run of episode files 0 .. k-1 (an id missing from the sequence is an error)."""
        assert self.directory is not None
        if ids != list(range(len(ids))):
            first_missing = next(i for i in range(len(ids) + 1) if i >= len(ids) or ids[i] != i)
            raise EpisodeFileError(self.directory / episode_relpath(first_missing), "file not found")
        log.info("%s: rebuilding the index from %d episode files", self.directory, len(ids))
        self._lengths = [len(Episode.load(self.directory / episode_relpath(i))) for i in ids]
        self._lengths_np = None
        self.recompute_counters()
        if not self.read_only:
            self.save_index()

    def save_index(self) -> None:
        """Write `info.pt` atomically, and the action spec when it changed (no-op for a RAM-only or read-only
        dataset)."""
        if self.index_path is None or self.read_only:
            return
        if self._action_spec is not None and self._action_spec != self._recorded_spec:
            write_action_spec(self.index_path.parent / ACTION_SPEC_FILENAME, self._action_spec)
            self._recorded_spec = self._action_spec
        write_index(
            self.index_path,
            DatasetIndex(self.lengths, Counter(self.counter_rew), Counter(self.counter_end), self._is_static),
        )

    def recompute_counters(self) -> None:
        """Recount reward signs and end flags from every episode."""
        self.counter_rew = Counter({v: 0 for v in REW_SIGNS})
        self.counter_end = Counter({v: 0 for v in END_VALUES})
        for i in range(self.num_episodes):
            ep = self.load_episode(i)
            self.counter_rew.update(_count(ep.rew.sign(), REW_SIGNS))
            self.counter_end.update(_count(ep.end, END_VALUES))

    def close(self) -> None:
        """Write the index and drop the RAM copies. The folder can then be reopened with `EpisodeDataset(dir)`."""
        self.save_index()
        self._cache.clear()
        self._files.clear()

    def clear(self) -> None:
        """Delete every episode (and the folder's content)."""
        self._check_writable()
        if self.directory is not None and self.directory.is_dir():
            shutil.rmtree(self.directory)
        self._cache.clear()
        self._files.clear()
        self._lengths = []
        self._lengths_np = None
        self._frame_shape = None
        self._recorded_spec = None  # the spec file went with the folder; the spec is kept and written again
        self.counter_rew = Counter({v: 0 for v in REW_SIGNS})
        self.counter_end = Counter({v: 0 for v in END_VALUES})

    # ------------------------------------------------------------------ action spec

    @property
    def action_spec(self) -> Optional[ActionSpec]:
        """The actions of the episodes: recorded in the folder or given; None when unknown (see the module
        docstring)."""
        return self._action_spec

    def set_action_spec(self, spec: ActionSpec) -> None:
        """Declare the actions of the episodes (written with the index). `DatasetError` when the dataset holds
        episodes of another kind or number of actions (by its recorded spec, else by its first episode)."""
        where = f"dataset {self.name!r} ({self.directory or 'RAM'})"
        known = self._action_spec
        if known is not None and self.num_episodes > 0 and not known.same_layout(spec):
            raise DatasetError(f"{where} holds {known.describe()}, not the {spec.describe()} given")
        if known is None and self.num_episodes > 0:
            check_actions(self.load_episode(0).act, spec, where)
        self._action_spec = spec

    # ------------------------------------------------------------------ sizes and counters

    def __len__(self) -> int:
        return self.num_steps

    def __repr__(self) -> str:
        where = str(self.directory) if self.directory is not None else "RAM"
        return f"EpisodeDataset({self.name!r}: {self.num_episodes} episodes, {self.num_steps} steps, {where})"

    @property
    def num_episodes(self) -> int:
        return len(self._lengths)

    @property
    def num_steps(self) -> int:
        return int(sum(self._lengths))

    @property
    def lengths(self) -> np.ndarray:
        """(num_episodes,) int64 lengths (read-only view)."""
        if self._lengths_np is None:
            self._lengths_np = np.asarray(self._lengths, dtype=np.int64)
            self._lengths_np.setflags(write=False)
        return self._lengths_np

    @property
    def frame_shape(self) -> Optional[tuple[int, int, int]]:
        """(C, H, W) of the frames, None while the dataset is empty."""
        if self._frame_shape is None and self.num_episodes > 0:
            self._frame_shape = self.load_episode(0).frame_shape
        return self._frame_shape

    @property
    def start_idx(self) -> np.ndarray:
        """(num_episodes,) index of each episode's first step in the concatenation of all episodes."""
        return DatasetIndex(self.lengths).start_idx

    @property
    def is_static(self) -> bool:
        """True for a dataset that is not collected into (read-only, or marked static in its index); a follower
        is not: it sees a dataset being collected."""
        return (self.read_only and not self.follower) or self._is_static

    def follow_index(self, lengths: Sequence[int]) -> None:
        """A follower takes the writer's index (its episode lengths): new episodes appear, and RAM copies and file
        layouts of episodes that grew since are dropped (read again from their files at the next draw)."""
        if not self.follower:
            raise ValueError(f"dataset {self.name!r} is not a follower: its index is its own")
        lengths = [int(n) for n in lengths]
        changed = {i for i, n in enumerate(self._lengths) if i >= len(lengths) or lengths[i] != n}
        for i in changed:  # the writer rewrote their files: RAM copies and file layouts are stale
            self._cache.pop(i, None)
            self._files.pop(i, None)
        self._lengths = lengths
        self._lengths_np = None

    @property
    def counts_rew(self) -> list[int]:
        """Number of steps with reward sign -1, 0, +1."""
        return [self.counter_rew[v] for v in REW_SIGNS]

    @property
    def counts_end(self) -> list[int]:
        """Number of steps with end 0, 1."""
        return [self.counter_end[v] for v in END_VALUES]

    # ------------------------------------------------------------------ episodes

    def episode_path(self, episode_id: int) -> Path:
        """Where episode `episode_id` is stored (published layout)."""
        if self.directory is None:
            raise ValueError(f"dataset {self.name!r} lives in RAM only: its episodes have no path")
        return self.directory / episode_relpath(episode_id)

    def _check_id(self, episode_id: int) -> int:
        if isinstance(episode_id, bool) or not isinstance(episode_id, (int, np.integer)):
            raise ValueError(f"episode_id must be an integer, got {episode_id!r}")
        if not 0 <= episode_id < self.num_episodes:
            raise ValueError(
                f"episode_id {episode_id} out of range: the dataset has {self.num_episodes} episodes"
            )
        return int(episode_id)

    def _check_writable(self) -> None:
        if self.read_only:
            raise ReadOnlyDatasetError(f"dataset {self.name!r} ({self.directory}) is read-only")

    def load_episode(self, episode_id: int) -> Episode:
        """Episode `episode_id` (frames uint8). Raises `EpisodeFileError` naming the file if it is unusable."""
        episode_id = self._check_id(episode_id)
        ep = self._cache.get(episode_id)
        if ep is not None:
            return ep
        path = self.episode_path(episode_id)
        ep = Episode.load(path)
        length = self._lengths[episode_id]
        if len(ep) < length:
            raise EpisodeFileError(path, f"holds {len(ep)} steps but the index says {length}")
        if len(ep) > length:
            log.warning("%s: %d steps, indexed as %d: reading the indexed part only", path, len(ep), length)
            ep = ep.head(length)
        if self.cache_in_ram:
            self._cache[episode_id] = ep
        return ep

    def load_steps(self, episode_id: int, start: int, stop: int) -> Episode:
        """Steps [max(0, start), min(length, stop)) of episode `episode_id` (the final observation only when they
        reach its last step). Without `cache_in_ram`, only these steps are read from the file (`EpisodeFile`), so
        a segment costs its own frames whatever the episode's length; else they are views of the cached episode.
        ValueError when the range holds no step of the episode."""
        episode_id = self._check_id(episode_id)
        length = self._lengths[episode_id]
        lo, hi = max(0, int(start)), min(length, int(stop))
        if lo >= hi:
            raise ValueError(
                f"steps [{start}, {stop}) hold no step of episode {episode_id} (length {length})"
            )
        if self.cache_in_ram or episode_id in self._cache:
            return self.load_episode(episode_id).steps(lo, hi)
        file = self._files.pop(episode_id, None)
        if file is None:
            file = EpisodeFile(self.episode_path(episode_id))
            if len(file) < length:
                raise EpisodeFileError(file.path, f"holds {len(file)} steps but the index says {length}")
            while len(self._files) >= OPEN_FILES:
                self._files.popitem(last=False)
        self._files[episode_id] = file
        return file.read(lo, hi, length)
