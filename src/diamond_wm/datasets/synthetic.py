"""Small synthetic inputs for the dataset commands: CS:GO hdf5 episodes (the published keys and shapes, in a tar
like the published ones) and gameplay videos with their action logs. Tests, benchmarks and the docs' walkthrough
make their data with these."""

from __future__ import annotations

import csv
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from diamond_wm.datasets.csgo_hdf5 import PUBLISHED_TAR_PREFIX, require_h5py
from diamond_wm.envs.csgo.actions import ACTION_SIZE, KEY_ORDER, MOUSE_X_OFFSET, MOUSE_Y_OFFSET

CSGO_FRAME_SHAPE = (150, 280, 3)  # (H, W, BGR) of the published frames


def csgo_frame(rng: np.random.Generator, shape: Sequence[int] = CSGO_FRAME_SHAPE) -> np.ndarray:
    """A uint8 frame: a smooth gradient (something to downsample) plus noise (overshoot for bicubic)."""
    h, w, c = shape
    yy, xx = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, 1, w), indexing="ij")
    phase = rng.uniform(0, 2 * np.pi, size=c)
    base = 127.5 + 100 * np.sin(6 * xx[..., None] + 4 * yy[..., None] + phase)
    return np.clip(base + rng.normal(0, 30, size=(h, w, c)), 0, 255).astype(np.uint8)


def csgo_action_values(rng: np.random.Generator) -> np.ndarray:
    """51 float64 values in the multi-hot layout: random keys and clicks, one mouse-x and one mouse-y bin."""
    y = np.zeros(ACTION_SIZE, dtype=np.float64)
    y[: len(KEY_ORDER) + 2] = rng.random(len(KEY_ORDER) + 2) < 0.2
    y[MOUSE_X_OFFSET + rng.integers(MOUSE_Y_OFFSET - MOUSE_X_OFFSET)] = 1
    y[MOUSE_Y_OFFSET + rng.integers(ACTION_SIZE - MOUSE_Y_OFFSET)] = 1
    return y


def write_csgo_episode(
    path: Path | str, num_frames: int, *, seed: int = 0, frame_shape: Sequence[int] = CSGO_FRAME_SHAPE
) -> Path:
    """An hdf5 episode file with the published keys: `frame_{i}_x` (BGR uint8), `frame_{i}_y` (51 floats) and the
    unused `frame_{i}_xaux`, `frame_{i}_helperarr`."""
    h5py = require_h5py()
    rng = np.random.default_rng(seed)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as f:
        for i in range(num_frames):
            f[f"frame_{i}_x"] = csgo_frame(rng, frame_shape)
            f[f"frame_{i}_y"] = csgo_action_values(rng)
            f[f"frame_{i}_xaux"] = np.zeros(54, dtype=np.float64)
            f[f"frame_{i}_helperarr"] = np.zeros(2, dtype=np.float64)
    return path


def write_csgo_tar(
    folder: Path | str,
    first: int,
    last: int,
    num_frames: int,
    *,
    frame_shape: Sequence[int] = CSGO_FRAME_SHAPE,
) -> Path:
    """`hdf5_dm_july2021_<first>_to_<last>.tar` holding episodes `hdf5_dm_july2021_<n>.hdf5`, n = first .. last
    (episode n is drawn from seed n), as top-level members."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tar_path = folder / f"{PUBLISHED_TAR_PREFIX}{first}_to_{last}.tar"
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(tar_path, "w") as tar:
        for n in range(first, last + 1):
            name = f"{PUBLISHED_TAR_PREFIX}{n}.hdf5"
            write_csgo_episode(Path(tmp) / name, num_frames, seed=n, frame_shape=frame_shape)
            tar.add(Path(tmp) / name, arcname=name)
    return tar_path


def write_video(path: Path | str, frames: np.ndarray, *, fps: int = 15, codec: str = "libx264rgb") -> Path:
    """Encode uint8 RGB frames (T, H, W, 3) with PyAV (`libx264rgb` at qp 0 is lossless; `mpeg4` is not)."""
    import av

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        if codec == "libx264rgb":
            stream.pix_fmt, stream.options = "rgb24", {"qp": "0"}
        else:
            stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(
                av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            ):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def write_action_log(path: Path | str, rows: Sequence[dict]) -> Path:
    """An action log: CSV (header from the first row's keys) or JSONL (one JSON object a line), by suffix."""
    import json

    path = Path(path)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        return path
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
