"""The episodes of one video: its frames decoded once, matched to the rows of its log by a `FramePlan`, resized,
and cut where the log says (`diamond_wm.datasets.action_logs`: an ended episode's last row is its terminal frame,
kept as `info["final_observation"]` at each resolution, as the collector keeps Gymnasium's final observation).

One episode at output resolution is in memory at a time."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from diamond_wm.conversion.resize import resize_frames
from diamond_wm.data.episode import FINAL_OBSERVATION, Episode
from diamond_wm.data.hdf5_full_res import ORIGINAL_FILE_ID, ORIGINAL_FIRST_FRAME
from diamond_wm.datasets.action_logs import ActionLog
from diamond_wm.datasets.frame_matching import FramePlan
from diamond_wm.datasets.video_frames import iter_video_frames

CHUNK_FRAMES = 32  # frames resized at once
LOW_RES, FULL_RES = "low_res", "full_res"


@dataclass
class StillFrames:
    """Rows whose frame is identical to the row before's (a frozen capture, or a still screen): how many, and
    the longest run of them."""

    count: int = 0
    longest: int = 0
    where: str = ""  # 'play.mp4 frames 100-111': the longest run

    def add(self, run: int, where: str) -> None:
        if run > self.longest:
            self.longest, self.where = run, where


def video_episodes(
    video: Path,
    rel: str,
    log: ActionLog,
    plan: FramePlan,
    todo: set[int],
    size: tuple[int, int],
    full_res_size: Optional[tuple[int, int]],
    bar: Any,
    still: StillFrames,
) -> Iterator[tuple[int, dict[str, Episode]]]:
    """Decode `video` once; yield (episode index, {part: Episode}) for the episodes of `log` in `todo`. A video
    whose decoded frames differ from what its container listed (`plan`) is a ValueError naming it."""
    ranges = log.episode_ranges()
    rows = iter(enumerate(plan.frames))
    k, wanted = next(rows)
    low: list[torch.Tensor] = []
    full: list[torch.Tensor] = []
    chunk: list[np.ndarray] = []
    e, decoded, run = 0, 0, 0
    previous: Optional[np.ndarray] = None

    def flush() -> None:
        if chunk and e in todo:
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).contiguous()  # (n, 3, H, W)
            low.append(resize_frames(x, size))
            if full_res_size is not None:
                full.append(resize_frames(x, full_res_size))
        chunk.clear()

    for j, (frame, _, _) in enumerate(iter_video_frames(video)):
        decoded += 1
        if j != wanted:
            continue  # a frame between two rows (a video resampled by time)
        if previous is not None and np.array_equal(frame, previous):
            run += 1
            still.count += 1
            still.add(run, f"{rel} frames {plan.frames[k - run + 1]}-{j}")
        else:
            run = 0
        previous = frame
        chunk.append(frame)
        bar.update()
        stop = ranges[e][1]
        if len(chunk) == CHUNK_FRAMES or k + 1 == stop:
            flush()
        if k + 1 == stop:
            if e in todo:
                yield e, _episode(log, ranges[e], low, full, rel)
            low, full, e = [], [], e + 1
        try:
            k, wanted = next(rows)
        except StopIteration:
            wanted = -1
    if wanted != -1 or decoded != plan.count:
        raise ValueError(
            f"{video}: {decoded} frames decoded, but its container lists {plan.count} (a damaged video?)"
        )


def _episode(
    log: ActionLog, span: tuple[int, int], low: list[torch.Tensor], full: list[torch.Tensor], rel: str
) -> dict[str, Episode]:
    """{part: Episode} of the rows `span`: a step per row, but the terminal frame of an ended episode, which
    becomes its final observation."""
    a, b = span
    n = log.num_steps(span)
    act, rew = log.act[a : a + n], log.rew[a : a + n]
    end = torch.zeros(n, dtype=torch.uint8)
    end[-1] = int(log.ends(span))
    info = {ORIGINAL_FILE_ID: rel, ORIGINAL_FIRST_FRAME: a}
    out = {}
    for part, frames in ((LOW_RES, low), (FULL_RES, full)):
        if not frames:
            continue
        obs = torch.cat(frames)  # (b - a, 3, h, w)
        part_info = dict(info)
        if log.ends(span):
            part_info[FINAL_OBSERVATION] = obs[n].clone()
        out[part] = Episode(
            obs[:n].clone(), act.clone(), rew.clone(), end.clone(), torch.zeros_like(end), part_info
        )
    return out
