"""Frames of a video file, decoded with PyAV (FFmpeg) as RGB: `frame.to_ndarray(format="rgb24")`, so channel 0
is red, whatever the file's pixel format (yuv420p, rgb24, ...). `probe_video` reads the frames' timestamps
without decoding them (the packets only), so that every video can be checked against its log first."""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np


@dataclass
class VideoProbe:
    """What the container says: the number of frames, their times (seconds, in presentation order; None when
    the container has none), and the frame period (seconds: the median interval between frames, else the
    stream's frame rate; 0 when unknown)."""

    count: int
    times: Optional[list[float]]
    period: float


def _open(path: Path) -> Any:
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise ValueError(f"{path}: unreadable video ({e})") from None
    if not container.streams.video:
        container.close()
        raise ValueError(f"{path}: no video stream")
    return container


def _period(stream: Any) -> float:
    rate = stream.average_rate or stream.guessed_rate
    return 1 / float(rate) if rate else 0.0


def probe_video(path: Path) -> VideoProbe:
    """The frame count and timestamps of `path` from its packets (nothing decoded); ValueError naming the file."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        pts: list[Optional[int]] = []
        try:
            for packet in container.demux(stream):
                if packet.size:  # the demuxer ends with an empty packet
                    pts.append(packet.pts)
        except av.FFmpegError as e:
            raise ValueError(f"{path}: packet {len(pts)}: unreadable ({e})") from None
        base = stream.time_base
        known = base is not None and all(p is not None for p in pts)
        times = sorted(float(p * base) for p in pts) if known else None  # type: ignore[operator]
        period = _period(stream)
        if (
            times is not None and len(times) > 1
        ):  # the usual interval: not thrown off by gaps, as an average is
            period = statistics.median(b - a for a, b in zip(times, times[1:], strict=False)) or period
        return VideoProbe(len(pts), times, period)


def iter_video_frames(path: Path) -> Iterator[tuple[np.ndarray, Optional[float], float]]:
    """(RGB uint8 (H, W, 3), time in seconds or None, frame period) of each frame; ValueError naming the file."""
    import av

    with _open(path) as container:
        stream = container.streams.video[0]
        period = _period(stream)
        k = 0
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24"), frame.time, period
                k += 1
        except av.FFmpegError as e:
            raise ValueError(f"{path}: frame {k}: unreadable ({e})") from None
