"""How fast CS:GO episodes convert, against the raw h5py read of the same frames (the I/O floor), for benchmarks.

    from diamond_wm.conversion.measure import make_csgo_input, measure_csgo_conversion
    tars = make_csgo_input(tmp / "in", episodes=8, frames=1000)
    rate = measure_csgo_conversion(tars, tmp / "work", workers=2)
    rate.as_dict()  # {"frames": 8000, "workers": 2, "read_fps": ..., "convert_fps": ..., "ratio": ...}

The reference is h5py's plain read of each frame (`h5[key].read_direct`); the conversion reads the frames through
h5py's low-level handles, about 2.5x faster on these one-frame datasets: `read_raw(..., low_level=True)` measures
that floor too. The raw read goes over every `frame_{i}_x` once unmeasured (so that both measurements read from the page cache),
then once measured; the conversion is a whole `convert_csgo` run into a fresh folder (worker start-up included,
as a user pays it).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from diamond_wm.conversion.csgo_convert import convert_csgo
from diamond_wm.conversion.csgo_hdf5 import count_frames
from diamond_wm.conversion.csgo_sources import find_sources
from diamond_wm.conversion.synthetic import write_csgo_tar


@dataclass(frozen=True)
class ConversionRate:
    """Frames per second of the raw read and of the conversion of the same frames."""

    frames: int
    workers: int
    read_seconds: float
    convert_seconds: float

    @property
    def read_fps(self) -> float:
        return self.frames / self.read_seconds

    @property
    def convert_fps(self) -> float:
        return self.frames / self.convert_seconds

    @property
    def ratio(self) -> float:
        """Conversion rate over raw read rate."""
        return self.convert_fps / self.read_fps

    def as_dict(self) -> dict[str, float]:
        return asdict(self) | {
            "read_fps": self.read_fps,
            "convert_fps": self.convert_fps,
            "ratio": self.ratio,
        }


def make_csgo_input(folder: Path | str, episodes: int = 4, frames: int = 1000) -> Path:
    """A folder with one tar of `episodes` synthetic episodes of `frames` frames at 150x280."""
    write_csgo_tar(folder, 1, episodes, frames)
    return Path(folder)


def read_raw(input_path: Path | str, low_level: bool = False) -> tuple[int, float]:
    """(frames, seconds) to read every `frame_{i}_x` of the episodes of `input_path` with h5py, nothing else:
    `h5[key].read_direct` (the plain read, the reference), or with `low_level` through `h5py.h5d` handles, as the
    conversion reads them (`diamond_wm.conversion.csgo_hdf5.read_bgr_frames`)."""
    import h5py

    total, start = 0, time.perf_counter()
    for source in find_sources(input_path):
        with source.open() as h5:
            n = count_frames(h5, source.describe())
            buf = np.empty(h5["frame_0_x"].shape, dtype=np.uint8)
            for i in range(n):
                if low_level:
                    h5py.h5d.open(h5.id, f"frame_{i}_x".encode()).read(h5py.h5s.ALL, h5py.h5s.ALL, buf)
                else:
                    h5[f"frame_{i}_x"].read_direct(buf)
            total += n
    return total, time.perf_counter() - start


def measure_csgo_conversion(
    input_path: Path | str, work_dir: Path | str, workers: int = 1, full_res_copy: bool = False
) -> ConversionRate:
    """Raw read rate and conversion rate of the episodes of `input_path`; the conversion writes in `work_dir`."""
    read_raw(input_path)  # warm the page cache for both measurements
    frames, read_seconds = read_raw(input_path)
    out = Path(work_dir) / f"converted_{workers}"
    shutil.rmtree(out, ignore_errors=True)
    summary = convert_csgo(
        input_path, out, workers=workers, test_split="every:10", full_res_copy=full_res_copy, progress=False
    )
    if summary.failed or summary.frames_converted != frames:
        raise RuntimeError(f"conversion of {input_path} failed: {summary.failed or summary.frames_converted}")
    return ConversionRate(frames, workers, read_seconds, summary.seconds)
