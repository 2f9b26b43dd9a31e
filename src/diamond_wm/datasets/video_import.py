"""`diamond dataset import`: your own game's videos and their action logs as datasets in the published layout.

Each video (mp4, mkv, avi, mov, webm, m4v; decoded with PyAV) has an action log with one row per frame
(`diamond_wm.datasets.action_logs`). Its frames are resized to `size` (`diamond_wm.datasets.resize`), and to
`full_res_size` for an optional full-resolution copy (an upsampler's targets: a whole multiple of `size`). A log
row with end 1 ends an episode; the next row starts another. Episodes are ordered by video path, then by position;
a fraction of them, spread evenly over that order, are test episodes. Output as `diamond dataset csgo`'s
(`diamond_wm.datasets.staging`): `OUT/low_res/{train,test}` (and `OUT/full_res/{train,test}`), each recording the
action spec; a rerun skips the episodes already converted from an unchanged video and log. Each episode's
`info` names its video (`original_file_id`, relative to the video folder) and its first frame there.

Frames are decoded, resized and written as they come: one episode at output resolution is in memory at a time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from tqdm import tqdm

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data.episode import Episode
from diamond_wm.datasets.action_logs import LOG_SUFFIXES, ActionLog, read_action_log
from diamond_wm.datasets.interrupts import StopOnSignals
from diamond_wm.datasets.resize import resize_frames
from diamond_wm.datasets.staging import StagedOutput, plural, split_lines

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v")
DEFAULT_SIZE = (64, 64)
DEFAULT_TEST_FRACTION = 0.1
CHUNK_FRAMES = 32
LOW_RES, FULL_RES = "low_res", "full_res"


def parse_action_spec(text: str) -> ActionSpec:
    """`discrete:N`, `csgo` (the 51-dim CS:GO layout), or a JSON file in `ActionSpec.to_dict`'s form."""
    if text == "csgo":
        from diamond_wm.envs.csgo.actions import csgo_action_spec

        return csgo_action_spec()
    if text.startswith("discrete:"):
        n = text[len("discrete:") :]
        if not n.isdigit() or int(n) < 1:
            raise ValueError(f"--action-spec {text}: expected discrete:N with an integer N >= 1")
        return ActionSpec.discrete(int(n))
    path = Path(text).expanduser()
    if not path.is_file():
        raise ValueError(f"--action-spec {text}: expected discrete:N, csgo, or a JSON file (no such file)")
    import json

    try:
        return ActionSpec.from_dict(json.loads(path.read_text()))
    except ValueError as e:
        raise ValueError(f"--action-spec {path}: {str(e).splitlines()[0]}") from None


def find_log(video: Path, video_dir: Path, actions: str) -> Path:
    """The action log of `video`: beside it with the suffix `actions` ('csv' or 'jsonl'), or in the folder
    `actions` under the same relative path and stem."""
    if actions in ("csv", "jsonl"):
        candidates = [video.with_suffix(f".{actions}")]
    else:
        rel = video.relative_to(video_dir).with_suffix("")
        candidates = [Path(actions).expanduser() / rel.with_suffix(s) for s in LOG_SUFFIXES]
    found = [c for c in candidates if c.is_file()]
    if len(found) != 1:
        what = "no action log" if not found else "two action logs"
        raise ValueError(f"{video}: {what} (looked for {' and '.join(str(c) for c in candidates)})")
    return found[0]


def choose_test_episodes(n: int, fraction: float) -> set[int]:
    """Which of n episodes are test episodes: round(n * fraction) of them (at least 1 when fraction > 0 and n > 1,
    never all), spread evenly."""
    if not 0 <= fraction < 1:
        raise ValueError(f"--test-fraction {fraction}: expected a number in [0, 1)")
    k = min(max(round(n * fraction), 1 if fraction > 0 else 0), n - 1) if n > 1 else 0
    return {int((j + 0.5) * n / k) for j in range(k)}


def iter_video_frames(path: Path) -> Iterator[tuple[np.ndarray, Optional[float], float]]:
    """(RGB uint8 (H, W, 3), time in seconds or None, frame period) of each frame; ValueError naming the file."""
    import av

    try:
        container = av.open(str(path))
    except av.FFmpegError as e:
        raise ValueError(f"{path}: unreadable video ({e})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"{path}: no video stream")
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        period = 1 / float(rate) if rate else 0.0
        k = 0
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="rgb24"), frame.time, period
                k += 1
        except av.FFmpegError as e:
            raise ValueError(f"{path}: frame {k}: unreadable ({e})") from None


@dataclass
class ImportSummary:
    """What `import_videos` did; `lines()` is the summary the command prints."""

    out: Path
    spec: ActionSpec
    size: tuple[int, int]
    full_res_size: Optional[tuple[int, int]]
    videos: int = 0
    converted: int = 0
    frames_converted: int = 0
    already_done: int = 0
    episodes: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        low = self.out / LOW_RES
        lines = [
            f"imported {plural(self.converted, 'episode')} ({plural(self.frames_converted, 'frame')}) from "
            f"{plural(self.videos, 'video')} in "
            f"{self.seconds:.1f} s; {self.already_done} already done",
        ]
        lines += split_lines(low, self.episodes, self.steps)
        lines.append(f"frames {self.size[0]}x{self.size[1]}, actions: {self.spec.describe()}")
        paths = f"static_dataset.path={low}"
        if self.full_res_size is not None:
            h, w = self.full_res_size
            lines.append(f"full resolution {h}x{w}: {self.out / FULL_RES}/{{train,test}} (same episode ids)")
            paths += f" (upsampler targets: {self.out / FULL_RES})"
        if self.episodes.get("test", 0) == 0:
            lines.append("warning: no test episode (no test losses): raise --test-fraction or add videos")
        lines.append(f"train on: {paths}")
        return lines


def _fingerprint(video: Path, log: Path) -> str:
    st = video.stat()
    return f"{st.st_size}:{st.st_mtime_ns}:" + hashlib.sha1(log.read_bytes()).hexdigest()


def import_videos(
    video_dir: Path | str,
    out: Path | str,
    *,
    actions: str,
    action_spec: ActionSpec,
    size: tuple[int, int] = DEFAULT_SIZE,
    full_res_size: Optional[tuple[int, int]] = None,
    test_fraction: float = DEFAULT_TEST_FRACTION,
    progress: bool = True,
) -> ImportSummary:
    """Import (or resume importing) the videos of `video_dir` into `out`; see the module docstring."""
    start = time.perf_counter()
    video_dir, out = Path(video_dir).expanduser(), Path(out).expanduser()
    if full_res_size is not None:
        fh, fw = full_res_size
        if fh % size[0] or fw % size[1] or fh // size[0] != fw // size[1]:
            raise ValueError(
                f"--full-res-size {fh}x{fw}: expected the same whole multiple of --size {size[0]}x{size[1]} on "
                "both sides (an upsampler's factor)"
            )
    if not video_dir.is_dir():
        raise ValueError(f"{video_dir}: no such folder (expected a folder of videos)")
    videos = sorted(p for p in video_dir.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file())
    if not videos:
        raise ValueError(f"{video_dir}: no video ({', '.join(VIDEO_SUFFIXES)}) in it")
    logs = {v: find_log(v, video_dir, actions) for v in videos}
    parsed = {
        v: read_action_log(logs[v], action_spec) for v in videos
    }  # every log checked before any decoding
    keys = [(v, i, r) for v in videos for i, r in enumerate(parsed[v].episode_ranges())]
    names = [f"{v.relative_to(video_dir).as_posix()}#{i}" for v, i, _ in keys]
    test = choose_test_episodes(len(keys), test_fraction)
    mapping = {
        "train": [n for j, n in enumerate(names) if j not in test],
        "test": [n for j, n in enumerate(names) if j in test],
    }
    parts = (LOW_RES, FULL_RES) if full_res_size is not None else (LOW_RES,)
    settings = {
        "kind": "import",
        "size": list(size),
        "full_res_size": list(full_res_size or ()),
        "spec": action_spec.to_dict(),
    }
    staged = StagedOutput(out, parts, settings)
    staged.check_folder()
    staged.remove_temporary_files()
    staged.prepare(mapping)
    prints = {v: _fingerprint(v, logs[v]) for v in videos}
    pending = {n for (v, _, _), n in zip(keys, names, strict=True) if not staged.is_done(n, prints[v])}
    if pending:
        staged.unfinalize()
    summary = ImportSummary(out, action_spec, size, full_res_size, videos=len(videos))
    summary.already_done = len(names) - len(pending)
    bar = tqdm(
        total=sum(len(parsed[v]) for v in videos),
        unit="frame",
        desc="importing",
        disable=None if progress else True,
    )
    with bar, StopOnSignals() as stop:
        for video in videos:
            rel = video.relative_to(video_dir).as_posix()
            todo = {i for i in range(len(parsed[video].episode_ranges())) if f"{rel}#{i}" in pending}
            if not todo:
                bar.update(len(parsed[video]))
                continue
            for i, episodes in _video_episodes(video, rel, parsed[video], todo, size, full_res_size, bar):
                stop.check()
                staged.write(f"{rel}#{i}", episodes, prints[video])
                summary.converted += 1
                summary.frames_converted += len(episodes[LOW_RES])
        stop.check()
    indexes = staged.finalize(
        mapping, action_spec, {"videos": str(video_dir), "test_fraction": test_fraction}
    )
    for split in mapping:
        index = indexes[f"{LOW_RES}/{split}"]
        summary.episodes[split], summary.steps[split] = index.num_episodes, index.num_steps
    summary.seconds = time.perf_counter() - start
    return summary


def _video_episodes(
    video: Path,
    rel: str,
    log: ActionLog,
    todo: set[int],
    size: tuple[int, int],
    full_res_size: Optional[tuple[int, int]],
    bar: Any,
) -> Iterator[tuple[int, dict[str, Episode]]]:
    """Decode `video` once; yield (episode index, {part: Episode}) for the episodes in `todo`."""
    ranges = log.episode_ranges()
    low: list[torch.Tensor] = []
    full: list[torch.Tensor] = []
    chunk: list[np.ndarray] = []
    e, k, t0 = 0, 0, None

    def flush() -> None:
        if chunk and e in todo:
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).contiguous()  # (n, 3, H, W)
            low.append(resize_frames(x, size))
            if full_res_size is not None:
                full.append(resize_frames(x, full_res_size))
        chunk.clear()

    for frame, t, period in iter_video_frames(video):
        if k >= len(log):
            raise ValueError(
                f"{video}: frame {k} has no row in {log.path} (its last row is line {log.lines[-1]})"
            )
        if log.times is not None and t is not None:
            t0 = t if t0 is None else t0
            logged = log.times[k] - log.times[0]
            if abs((t - t0) - logged) > period / 2 + 1e-6:
                raise ValueError(
                    f"{log.path}: line {log.lines[k]}: time {logged:.3f} s (from the first row) but frame {k} "
                    f"of {video} is at {t - t0:.3f} s"
                )
        chunk.append(frame)
        k += 1
        bar.update()
        if len(chunk) == CHUNK_FRAMES or k == ranges[e][1]:
            flush()
        if k == ranges[e][1]:
            if e in todo:
                yield e, _episode(log, ranges[e], low, full, rel)
            low, full, e = [], [], e + 1
    if k < len(log):
        raise ValueError(f"{log.path}: line {log.lines[k]}: row {k} has no frame: {video} has {k} frames")


def _episode(
    log: ActionLog, span: tuple[int, int], low: Sequence[torch.Tensor], full: Sequence[torch.Tensor], rel: str
) -> dict[str, Episode]:
    a, b = span
    act, rew, end = log.act[a:b], log.rew[a:b], log.end[a:b]
    info = {"original_file_id": rel, "original_first_frame": a}
    out = {LOW_RES: Episode(torch.cat(list(low)), act, rew, end, torch.zeros_like(end), dict(info))}
    if full:
        out[FULL_RES] = Episode(
            torch.cat(list(full)), act.clone(), rew.clone(), end.clone(), torch.zeros_like(end), dict(info)
        )
    return out
