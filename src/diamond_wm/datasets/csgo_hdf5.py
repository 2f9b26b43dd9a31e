"""The published CS:GO recordings (Pearce & Zhu's `dataset_dm_scraped_dust2`): one episode per `.hdf5` file.

In a file, for i = 0 .. T-1 (T = 1000 in the published files): `frame_{i}_x` is a (150, 280, 3) uint8 BGR frame
and `frame_{i}_y` the 51 action values (the multi-hot layout of `diamond_wm.envs.csgo.actions`);
`frame_{i}_xaux` and `frame_{i}_helperarr` are not used. Frames come out as RGB uint8 (T, 3, H, W).

A file is known by its id `<folder>/<file name>`, the key under which the published loader finds it in its
full-resolution folder (every `.hdf5` below it, keyed by parent folder and name): the published converter
extracts `hdf5_dm_july2021_<a>_to_<b>.tar` into `<a>-<b>/`, so its files are `<a>-<b>/hdf5_dm_july2021_<n>.hdf5`.
`hdf5_file_index` finds the files of such a folder by id (full-resolution frames read back from the originals).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch

from diamond_wm.envs.csgo.actions import ACTION_SIZE, csgo_action_spec

PUBLISHED_TAR_PREFIX = "hdf5_dm_july2021_"
_FRAME_KEY = re.compile(r"^frame_(\d+)_x$")


def require_h5py() -> Any:
    """The h5py module; ImportError with the install line when it is missing."""
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            f"reading the CS:GO hdf5 files needs h5py ({e}): pip install 'diamond-wm[csgo]'"
        ) from e
    return h5py


def file_id(path: Path | str) -> str:
    """`<folder>/<file name>`: how the published loader keys an hdf5 file of its full-resolution folder."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"


def tar_folder_name(tar: Path | str) -> str:
    """The folder the published converter extracts a tar into: `hdf5_dm_july2021_1_to_200.tar` -> `1-200`."""
    stem = Path(tar).stem
    if stem.startswith(PUBLISHED_TAR_PREFIX):
        return "-".join(stem[len(PUBLISHED_TAR_PREFIX) :].split("_to_"))
    return stem


def hdf5_file_index(root: Path | str) -> dict[str, Path]:
    """Every `.hdf5` file below `root` by its id (see the module docstring); ValueError when two share an id."""
    index: dict[str, Path] = {}
    for path in sorted(Path(root).rglob("*.hdf5")):
        key = file_id(path)
        if key in index:
            raise ValueError(f"{root}: two hdf5 files with the id {key!r}: {index[key]} and {path}")
        index[key] = path
    return index


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


def _open_dataset(h5: Any, key: str) -> Any:
    """h5py's low-level handle of dataset `key` (`h5py.h5d.DatasetID`): reading through it skips the per-access
    Python layers of `h5[key]` (about 2.5x faster for these small datasets, one per frame)."""
    import h5py

    return h5py.h5d.open(h5.id, key.encode())


def read_bgr_frames(h5: Any, start: int, stop: int, name: str) -> np.ndarray:
    """Frames start .. stop-1 as stored: BGR uint8 (n, H, W, 3); ValueError naming the key of a frame of another
    shape or type."""
    import h5py

    first = _open_dataset(h5, f"frame_{start}_x")
    shape = tuple(first.shape)
    if len(shape) != 3 or shape[2] != 3 or first.dtype != np.uint8:
        raise ValueError(f"{name}: frame_{start}_x is {first.dtype} {shape}: expected uint8 (H, W, 3) BGR")
    out = np.empty((stop - start, *shape), dtype=np.uint8)  # (n, H, W, 3) BGR
    for j, i in enumerate(range(start, stop)):
        ds = first if i == start else _open_dataset(h5, f"frame_{i}_x")
        if tuple(ds.shape) != shape or ds.dtype != np.uint8:
            raise ValueError(
                f"{name}: frame_{i}_x is {ds.dtype} {tuple(ds.shape)}, frame_{start}_x uint8 {shape}"
            )
        ds.read(h5py.h5s.ALL, h5py.h5s.ALL, out[j])
    return out


def read_frames(h5: Any, start: int, stop: int, name: str) -> torch.Tensor:
    """Frames start .. stop-1 as RGB uint8 (n, 3, H, W) (see `read_bgr_frames`)."""
    bgr = torch.from_numpy(read_bgr_frames(h5, start, stop, name)).permute(0, 3, 1, 2)  # (n, 3, H, W) view
    return bgr.flip(1).contiguous()


def read_actions(h5: Any, start: int, stop: int, name: str) -> torch.Tensor:
    """Actions start .. stop-1 as float32 (n, 51), checked against the CS:GO spec (ValueError naming the key)."""
    import h5py

    values = np.empty(
        (stop - start, ACTION_SIZE), dtype=np.float64
    )  # stored as float64; HDF5 converts others
    for j, i in enumerate(range(start, stop)):
        ds = _open_dataset(h5, f"frame_{i}_y")
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
