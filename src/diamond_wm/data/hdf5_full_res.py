"""An upsampler's full-resolution frames read from the original CS:GO hdf5 files, as the published trainer reads
them, instead of from a full-resolution copy of the dataset.

Each low-resolution episode names where it came from in its `info`: `original_file_id` (the hdf5 file's id,
`<folder>/<file name>`, see `diamond_wm.data.hdf5_frames`) and `original_first_frame` (its step 0 is that frame of
the file; 0 when absent, as in the published converter's episodes). Step t of the episode is `frame_{first + t}_x`.

The file and first frame of an episode are read from the low-resolution episode the first time a process needs
them (kept, a few bytes per episode); a segment then reads only its own frames from the hdf5 file. Each process
opens its own h5py files (a DataLoader worker never uses a handle of its parent, forked or not), at most
`max_open_files` at a time.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.hdf5_frames import hdf5_file_index, read_frames, require_h5py

ORIGINAL_FILE_ID = "original_file_id"
ORIGINAL_FIRST_FRAME = "original_first_frame"


class Hdf5FullResFrames:
    """The full-resolution frames of `low_res`'s episodes, from the hdf5 files below `root` (see the module
    docstring). Stands in for a full-resolution `EpisodeDataset` in `make_batch` and the loaders.

    Args:
        root: a folder holding the original `.hdf5` files (any depth; the published `<a>-<b>/` folders).
        low_res: the low-resolution dataset whose episodes name their hdf5 file; it must have a directory.
        max_open_files: h5py files kept open per process.
    """

    def __init__(self, root: str | Path, low_res: EpisodeDataset, *, max_open_files: int = 8) -> None:
        self.root = Path(root).expanduser()
        if low_res.directory is None:
            raise ValueError("full-resolution frames from hdf5 files need a low-resolution dataset on disk")
        require_h5py()
        self.files = hdf5_file_index(self.root)
        if not self.files:
            raise ValueError(f"{self.root} holds no .hdf5 file")
        by_name: dict[str, list[Path]] = {}
        for path in self.files.values():
            by_name.setdefault(path.name, []).append(path)
        # A file found by name alone when its folder differs (e.g. every tar extracted into one folder).
        self._by_name = {k: v[0] for k, v in by_name.items() if len(v) == 1}
        self.name = f"full-res {low_res.name}"
        self.low_res_directory = low_res.directory
        self.lengths = low_res.lengths.copy()  # (num_episodes,): the low-resolution episodes' lengths
        self.lengths.setflags(write=False)
        self.max_open_files = max_open_files
        self._low_res: Optional[EpisodeDataset] = low_res
        self._sources: dict[int, tuple[Path, int]] = {}  # episode id -> (hdf5 file, its first frame)
        self._open_files: OrderedDict[Path, Any] = OrderedDict()
        self._pid = os.getpid()
        self._frame_shape: Optional[tuple[int, int, int]] = None

    def __repr__(self) -> str:
        return f"Hdf5FullResFrames({len(self.files)} hdf5 files in {self.root}, for {self.low_res_directory})"

    # ------------------------------------------------------------------ per process

    def __getstate__(
        self,
    ) -> dict[str, Any]:  # to a spawned worker: no h5py handle, no dataset (reopened there)
        state = dict(self.__dict__)
        state["_low_res"], state["_open_files"] = None, OrderedDict()
        return state

    def _check_process(self) -> None:
        if os.getpid() != self._pid:  # a forked worker: its parent's handles are not its own
            self._open_files = OrderedDict()
            self._pid = os.getpid()

    def _low_res_dataset(self) -> EpisodeDataset:
        if self._low_res is None:
            self._low_res = EpisodeDataset(  # in a data-loader worker too: quiet, the run logged it
                self.low_res_directory, cache_in_ram=False, read_only=True, quiet=True
            )
        return self._low_res

    def _h5(self, path: Path) -> Any:
        self._check_process()
        h5 = self._open_files.get(path)
        if h5 is not None:
            self._open_files.move_to_end(path)
            return h5
        try:
            h5 = require_h5py().File(path, "r")
        except OSError as e:
            raise ValueError(f"{path}: unreadable hdf5 file ({str(e).strip() or type(e).__name__})") from e
        self._open_files[path] = h5
        while len(self._open_files) > self.max_open_files:
            _, oldest = self._open_files.popitem(last=False)
            oldest.close()
        return h5

    def close(self) -> None:
        """Close this process's hdf5 files."""
        self._check_process()
        while self._open_files:
            self._open_files.popitem()[1].close()

    # ------------------------------------------------------------------ frames

    def source(self, episode_id: int) -> tuple[Path, int]:
        """(hdf5 file, first frame) of low-resolution episode `episode_id`; ValueError naming the episode file
        when it names no file found below `root`."""
        known = self._sources.get(int(episode_id))
        if known is not None:
            return known
        low = self._low_res_dataset()
        info = low.load_episode(episode_id).info
        where = f"episode {low.episode_path(episode_id)}"
        fid = info.get(ORIGINAL_FILE_ID)
        if not isinstance(fid, str):
            raise ValueError(
                f"{where} has no info['{ORIGINAL_FILE_ID}']: it does not say which hdf5 file it came from; "
                "use a full-resolution dataset instead (diamond dataset csgo --full-res-copy)"
            )
        path = self.files.get(fid) or self._by_name.get(Path(fid).name)
        if path is None:
            raise ValueError(
                f"{where} came from {fid!r}, not found below {self.root} "
                f"({len(self.files)} hdf5 files; expected the folder the tars were extracted into)"
            )
        first = int(info.get(ORIGINAL_FIRST_FRAME, 0))
        self._sources[int(episode_id)] = (path, first)
        return path, first

    @property
    def frame_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the frames: those of the first episode's file."""
        if self._frame_shape is None:
            path, first = self.source(0)
            ds = self._h5(path).get(f"frame_{first}_x")
            if ds is None or len(ds.shape) != 3 or ds.shape[2] != 3:
                found = "no such key" if ds is None else f"{ds.dtype} {tuple(ds.shape)}"
                raise ValueError(f"{path}: frame_{first}_x is {found}: expected uint8 (H, W, 3) BGR")
            h, w, c = ds.shape
            self._frame_shape = (int(c), int(h), int(w))
        return self._frame_shape

    def read_frames(self, episode_id: int, start: int, stop: int) -> torch.Tensor:
        """RGB uint8 (stop - start, C, H, W): steps start .. stop-1 of episode `episode_id` at full resolution."""
        if not 0 <= start < stop <= int(self.lengths[episode_id]):
            raise ValueError(
                f"steps [{start}, {stop}) outside episode {episode_id} of {int(self.lengths[episode_id])} steps"
            )
        path, first = self.source(episode_id)
        frames = read_frames(self._h5(path), first + start, first + stop, str(path))
        if tuple(frames.shape[1:]) != self.frame_shape:
            raise ValueError(
                f"{path}: frames of shape {tuple(frames.shape[1:])}, those of episode 0's file {self.frame_shape}"
            )
        return frames
