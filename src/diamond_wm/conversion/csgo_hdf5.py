"""The published CS:GO recordings (Pearce & Zhu's `dataset_dm_scraped_dust2`): one episode per `.hdf5` file.

In a file, for i = 0 .. T-1 (T = 1000 in the published files): `frame_{i}_x` is a (150, 280, 3) uint8 BGR frame
and `frame_{i}_y` the 51 action values (the multi-hot layout of `diamond_wm.envs.csgo.actions`);
`frame_{i}_xaux` and `frame_{i}_helperarr` are not used. Frames come out as RGB uint8 (T, 3, H, W).

A file is known by its id `<folder>/<file name>`, the key under which the published loader finds it in its
full-resolution folder (every `.hdf5` below it, keyed by parent folder and name): the published converter
extracts `hdf5_dm_july2021_<a>_to_<b>.tar` into `<a>-<b>/`, so its files are `<a>-<b>/hdf5_dm_july2021_<n>.hdf5`.
`hdf5_file_index` finds the files of such a folder by id (full-resolution frames read back from the originals).
The reading of frames and file ids, which training uses too, is `diamond_wm.data.hdf5_frames` (re-exported here);
this module adds what only the conversion needs (tar folder names, frame counts, actions).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond_wm.data.hdf5_frames import (  # noqa: F401  (the reading part lives in the data layer)
    file_id,
    hdf5_file_index,
    open_dataset,
    read_bgr_frames,
    read_frames,
    require_h5py,
)
from diamond_wm.envs.csgo.actions import ACTION_SIZE, csgo_action_spec

PUBLISHED_TAR_PREFIX = "hdf5_dm_july2021_"
_FRAME_KEY = re.compile(r"^frame_(\d+)_x$")


def tar_folder_name(tar: Path | str) -> str:
    """The folder the published converter extracts a tar into: `hdf5_dm_july2021_1_to_200.tar` -> `1-200`."""
    stem = Path(tar).stem
    if stem.startswith(PUBLISHED_TAR_PREFIX):
        return "-".join(stem[len(PUBLISHED_TAR_PREFIX) :].split("_to_"))
    return stem


def count_frames(h5: Any, name: str) -> int:
    """T, the number of steps of an opened episode file: `frame_0_x` .. `frame_{T-1}_x`, each with its `_y`.

    ValueError naming `name` and the first missing key when the indices have a gap or an action is missing."""
    keys = set(h5.keys())
    indices = sorted(int(m.group(1)) for m in map(_FRAME_KEY.match, keys) if m)
    if not indices:
        raise ValueError(f"{name}: no frame_<i>_x key: not a CS:GO episode file")
    for expected, i in enumerate(indices):
        if i != expected:
            raise ValueError(f"{name}: frame_{expected}_x missing (frames go up to frame_{indices[-1]}_x)")
    for i in indices:
        if f"frame_{i}_y" not in keys:
            raise ValueError(f"{name}: frame_{i}_y missing (the action of frame_{i}_x)")
    return len(indices)


def read_actions(h5: Any, start: int, stop: int, name: str) -> torch.Tensor:
    """Actions start .. stop-1 as float32 (n, 51), checked against the CS:GO spec (ValueError naming the key)."""
    import h5py

    values = np.empty(
        (stop - start, ACTION_SIZE), dtype=np.float64
    )  # stored as float64; HDF5 converts others
    for j, i in enumerate(range(start, stop)):
        ds = open_dataset(h5, f"frame_{i}_y", name)
        if tuple(ds.shape) != (ACTION_SIZE,):
            raise ValueError(f"{name}: frame_{i}_y has shape {tuple(ds.shape)}: expected ({ACTION_SIZE},)")
        ds.read(h5py.h5s.ALL, h5py.h5s.ALL, values[j])
    act_t = torch.from_numpy(values.astype(np.float32))
    spec = csgo_action_spec()
    try:
        spec.validate(act_t)
    except ValueError:
        for j in range(len(act_t)):  # name the first bad step
            try:
                spec.validate(act_t[j], what="its values")
            except ValueError as e:
                raise ValueError(f"{name}: frame_{start + j}_y: {e}") from None
        raise
    return act_t
