"""Which video frame each action-log row goes with, decided from timestamps before any frame is decoded.

- A log without a `time` column has one row per frame: row k is frame k, and the counts must be equal.
- A log with a `time` column is matched by time: both counted from their first entry, row k goes with the frame
  nearest its time, which must lie within half a frame period. A video with more frames per second than the log
  has rows is resampled (the frames between rows are skipped, e.g. every other frame of a 30 fps video logged at
  15 rows/s); two rows on one frame (a log faster than its video), a row with no frame near it (dropped frames),
  or frames beyond the last row's interval are refused with one line naming the rows and the times.

Timeline problems that do not stop the import are returned as warnings: gaps of more than 1.5 frame periods and
repeated timestamps in the video (dropped or duplicated frames: with one row per frame, the rows after them no
longer show what their actions did) and gaps in the log's times.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from diamond_wm.datasets.action_logs import ActionLog

GAP = 1.5  # an interval longer than this many periods is a gap (dropped frames or rows)
EPS = 1e-6


@dataclass
class FramePlan:
    """`frames[k]`: the frame index of log row k (increasing) of a video of `count` frames; `warnings`: one line
    each."""

    frames: list[int]
    count: int
    warnings: list[str] = field(default_factory=list)


def video_timeline_note(times: Sequence[float], period: float) -> Optional[str]:
    """'frame 57 at 1.900 s comes 2.0 frame periods after frame 56 (dropped frames?); 3 gaps, 1 repeated time'
    for a video whose timestamps have gaps or repeats, else None."""
    if period <= 0 or len(times) < 2:
        return None
    gaps = [k for k in range(1, len(times)) if times[k] - times[k - 1] > GAP * period + EPS]
    repeats = [k for k in range(1, len(times)) if times[k] <= times[k - 1] + EPS]
    if not gaps and not repeats:
        return None
    k = min(gaps + repeats)
    dt = times[k] - times[k - 1]
    first = (
        f"frame {k} at {times[k]:.3f} s comes {dt / period:.1f} frame periods after frame {k - 1} (dropped frames?)"
        if k in gaps
        else f"frame {k} has the time of frame {k - 1}, {times[k]:.3f} s (a duplicated frame?)"
    )
    return f"{first}; {len(gaps)} gap(s) of more than {GAP} frame periods, {len(repeats)} repeated time(s)"


def plan_frames(
    log: ActionLog, video: Path, times: Optional[Sequence[float]], count: int, period: float
) -> FramePlan:
    """The frame of each row of `log` for `video` (`count` frames at `times`, seconds, or None when the
    container has none; `period`: its nominal frame period). ValueError of one line naming the file and the row."""
    note = video_timeline_note(times, period) if times is not None else None
    if log.times is None or times is None or period <= 0:
        return _one_row_per_frame(log, video, count, note)
    return _by_time(log, video, [t - times[0] for t in times], period)


def _one_row_per_frame(log: ActionLog, video: Path, count: int, note: Optional[str]) -> FramePlan:
    hint = f" ({video.name}: {note})" if note else ""
    if count < len(log):
        raise ValueError(
            f"{log.path}: line {log.lines[count]}: row {count} has no frame: {video} has {count} frames{hint}"
        )
    if count > len(log):
        raise ValueError(
            f"{video}: frame {len(log)} has no row in {log.path} (its last row is line {log.lines[-1]}){hint}"
        )
    warnings = [f"{video}: {note}; its rows are taken as one per frame"] if note else []
    return FramePlan(list(range(count)), count, warnings)


def _by_time(log: ActionLog, video: Path, frame_times: list[float], period: float) -> FramePlan:
    assert log.times is not None
    rows = [t - log.times[0] for t in log.times]
    intervals = [b - a for a, b in zip(rows, rows[1:], strict=False)]
    row_period = statistics.median(intervals) if intervals else period
    rates = f"the log: {1 / row_period:.1f} rows/s, the video: {1 / period:.1f} frames/s"
    tol = period / 2 + EPS
    frames: list[int] = []
    j = 0
    for k, t in enumerate(rows):
        while j + 1 < len(frame_times) and abs(frame_times[j + 1] - t) < abs(frame_times[j] - t):
            j += 1
        where = f"{log.path}: line {log.lines[k]}"
        if abs(frame_times[j] - t) > tol:
            if t > frame_times[-1]:
                raise ValueError(
                    f"{where}: row {k} has no frame: its time {t:.3f} s (from the first row) is after the last frame "
                    f"of {video} ({len(frame_times)} frames, the last at {frame_times[-1]:.3f} s)"
                )
            near = j + 1 if frame_times[j] < t else j
            raise ValueError(
                f"{where}: time {t:.3f} s (from the first row) but no frame of {video} lies within half a frame of "
                f"it (frame {near - 1} is at {frame_times[near - 1]:.3f} s, frame {near} at {frame_times[near]:.3f} "
                "s: dropped frames?)"
            )
        if frames and frames[-1] == j:
            raise ValueError(
                f"{log.path}: lines {log.lines[k - 1]} and {log.lines[k]}: times {rows[k - 1]:.3f} s and {t:.3f} s "
                f"(from the first row) both fall on frame {j} of {video} ({frame_times[j]:.3f} s): one row per frame "
                f"at most ({rates})"
            )
        frames.append(j)
    after = frames[-1] + 1
    if after < len(frame_times) and frame_times[after] >= rows[-1] + row_period - tol:
        raise ValueError(
            f"{video}: frame {after} (at {frame_times[after]:.3f} s) has no row in {log.path} (its last row is line "
            f"{log.lines[-1]}, at {rows[-1]:.3f} s)"
        )
    warnings = []
    gaps = [k for k, dt in enumerate(intervals, 1) if dt > GAP * row_period + EPS]
    if gaps:
        k = gaps[0]
        warnings.append(
            f"{log.path}: line {log.lines[k]}: time {rows[k]:.3f} s comes {intervals[k - 1] / row_period:.1f} "
            f"row intervals after the row before (a step over the frames between); {len(gaps)} such gap(s)"
        )
    return FramePlan(frames, len(frame_times), warnings)
