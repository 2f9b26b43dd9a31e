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

from diamond_wm.conversion.csgo_hdf5 import PUBLISHED_TAR_PREFIX, require_h5py
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


def game_frames(
    rng: np.random.Generator, mouse_x: np.ndarray, size: Sequence[int], forward: np.ndarray | None = None
) -> np.ndarray:
    """uint8 RGB frames (T, H, W, 3) of a toy first-person game: a striped panorama seen through a window that
    the mouse turns and `forward` (+1 forward, -1 back, 0) moves up and down, and a clock (a bright pixel moving
    along the bottom row), so the frames depend on the actions: the action logged with frame t acts between frame
    t and frame t + 1 (an action acts on its frame and yields the next)."""
    h, w = size
    panorama_w = 4 * w
    xs = np.arange(panorama_w)
    phase = rng.uniform(0, 2 * np.pi, size=3)
    rows = np.linspace(0, 1, 2 * h)[:, None, None]
    panorama = 127.5 + 90 * np.sin(2 * np.pi * xs[None, :, None] * 3 / panorama_w + phase) * (0.5 + rows)
    panorama = np.clip(panorama, 0, 255).astype(np.uint8)  # (2H, 4W, 3)
    forward = np.zeros(len(mouse_x), dtype=int) if forward is None else np.asarray(forward, dtype=int)

    def before(steps: np.ndarray) -> np.ndarray:  # frame t: the sum of the steps of rows 0 .. t - 1
        return np.concatenate(([0], np.cumsum(steps)[:-1]))

    cols = (
        before(np.round(mouse_x / 10).astype(int))[:, None] + np.arange(w)[None, :]
    ) % panorama_w  # (T, W)
    tops = before(forward) % h  # (T,)
    frames = np.stack(
        [panorama[top : top + h][:, c] for top, c in zip(tops, cols, strict=True)]
    )  # (T, H, W, 3)
    frames[np.arange(len(frames)), h - 1, np.arange(len(frames)) % w] = 255  # the clock
    return np.ascontiguousarray(frames)


def write_game_videos(
    folder: Path | str, num_videos: int, num_frames: int, size: Sequence[int] = (60, 100), *, fps: int = 15
) -> list[Path]:
    """Videos `play<k>.mp4` (lossless) of `game_frames` with CSV logs in the CS:GO layout (`frame, keys, mouse_x,
    mouse_y, end`): the middle row of each video has end 1, the terminal frame of its first episode (no key, no
    mouse motion: its action is not used), and the next row starts the second episode, which the video stops in;
    video k is drawn from seed k."""
    folder = Path(folder)
    paths = []
    for k in range(num_videos):
        rng = np.random.default_rng(k)
        mouse_x = rng.choice([-40, 0, 0, 40], size=num_frames)
        keys = rng.choice(["w", "w+a", "w+d", "", "s"], size=num_frames)
        mouse_x[num_frames // 2], keys[num_frames // 2] = 0, ""
        forward = np.array([int("w" in key) - int("s" in key) for key in keys])
        path = write_video(folder / f"play{k}.mp4", game_frames(rng, mouse_x, size, forward), fps=fps)
        rows = [
            {
                "frame": i,
                "keys": keys[i],
                "mouse_x": int(mouse_x[i]),
                "mouse_y": 0,
                "end": int(i == num_frames // 2),
            }
            for i in range(num_frames)
        ]
        write_action_log(path.with_suffix(".csv"), rows)
        paths.append(path)
    return paths
