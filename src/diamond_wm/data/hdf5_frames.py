"""Frames of the published CS:GO recordings, read from their `.hdf5` files (h5py): one episode per file.

In a file, for i = 0 .. T-1: `frame_{i}_x` is a (H, W, 3) uint8 BGR frame (150x280 in the published files) and
`frame_{i}_y` its 51 action values. Frames come out as RGB uint8 (n, 3, H, W).

A file is known by its id `<folder>/<file name>`, the key under which the published loader finds it in its
full-resolution folder (every `.hdf5` below it, keyed by parent folder and name): the published converter
extracts `hdf5_dm_july2021_<a>_to_<b>.tar` into `<a>-<b>/`, so its files are `<a>-<b>/hdf5_dm_july2021_<n>.hdf5`.
Training reads the upsampler's full-resolution targets this way (`diamond_wm.data.hdf5_full_res`); the
conversion (`diamond dataset csgo`) reads the same files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

HDF5_SUFFIX = ".hdf5"


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


def hdf5_file_index(root: Path | str) -> dict[str, Path]:
    """Every `.hdf5` file below `root` by its id (see the module docstring); ValueError when two share an id."""
    index: dict[str, Path] = {}
    for path in sorted(Path(root).rglob(f"*{HDF5_SUFFIX}")):
        key = file_id(path)
        if key in index:
            raise ValueError(f"{root}: two hdf5 files with the id {key!r}: {index[key]} and {path}")
        index[key] = path
    return index


def has_hdf5_files(root: Path | str) -> bool:
    """True when some `.hdf5` file lies below `root` (stops at the first one found)."""
    return next(Path(root).rglob(f"*{HDF5_SUFFIX}"), None) is not None


def read_bgr_frames(h5: Any, start: int, stop: int, name: str) -> np.ndarray:
    """Frames start .. stop-1 as stored: BGR uint8 (n, H, W, 3); ValueError naming the key of a missing frame or
    of a frame of another shape or type."""
    for i in (start, stop - 1):
        if f"frame_{i}_x" not in h5:
            raise ValueError(f"{name}: no frame_{i}_x (frames {start} .. {stop - 1} wanted)")
    first = h5[f"frame_{start}_x"]
    shape = tuple(first.shape)
    if len(shape) != 3 or shape[2] != 3 or first.dtype != np.uint8:
        raise ValueError(f"{name}: frame_{start}_x is {first.dtype} {shape}: expected uint8 (H, W, 3) BGR")
    out = np.empty((stop - start, *shape), dtype=np.uint8)  # (n, H, W, 3) BGR
    for j, i in enumerate(range(start, stop)):
        try:
            ds = h5[f"frame_{i}_x"]
        except KeyError:
            raise ValueError(f"{name}: no frame_{i}_x (frames {start} .. {stop - 1} wanted)") from None
        if tuple(ds.shape) != shape or ds.dtype != np.uint8:
            raise ValueError(
                f"{name}: frame_{i}_x is {ds.dtype} {tuple(ds.shape)}, frame_{start}_x uint8 {shape}"
            )
        ds.read_direct(out, dest_sel=np.s_[j])
    return out


def read_frames(h5: Any, start: int, stop: int, name: str) -> torch.Tensor:
    """Frames start .. stop-1 as RGB uint8 (n, 3, H, W) (see `read_bgr_frames`)."""
    bgr = torch.from_numpy(read_bgr_frames(h5, start, stop, name)).permute(0, 3, 1, 2)  # (n, 3, H, W) view
    return bgr.flip(1).contiguous()
