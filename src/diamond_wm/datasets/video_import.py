"""`diamond dataset import`: your own game's videos and their action logs as datasets in the published layout.

Each video (mp4, mkv, avi, mov, webm, m4v; decoded as RGB with PyAV, `diamond_wm.datasets.video_frames`) has an
action log (`diamond_wm.datasets.action_logs`: one row per frame, or rows with times matched to the frames',
`diamond_wm.datasets.frame_matching`). Every log is read and matched to its video's frame timestamps before any
frame is decoded or anything written. Frames are resized to `size` (`diamond_wm.conversion.resize`), and to
`full_res_size` for an optional full-resolution copy (an upsampler's targets: a whole multiple of `size`). A log
row with end 1 is the terminal frame of its episode (its final observation); the next row starts another.
Episodes are ordered by video path, then by position; a fraction of them, spread evenly over that order, are
test episodes. Output as `diamond dataset csgo`'s (`diamond_wm.conversion.staging`): `OUT/low_res/{train,test}`
(and `OUT/full_res/{train,test}`), each recording the action spec; a rerun skips the episodes already converted
from an unchanged video and log, and an interrupted import resumes. A folder holding an import made with other
settings (sizes, action spec, video folder) is refused unless `overwrite`. A refused import leaves nothing it
staged behind. Each episode's `info` names its video (`original_file_id`, relative to the video folder) and its
first frame there (`original_first_frame`).

One episode at output resolution is in memory at a time (`diamond_wm.datasets.video_episodes`).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from tqdm import tqdm

from diamond_wm.config.actions import ActionSpec
from diamond_wm.conversion.interrupts import StopOnSignals
from diamond_wm.conversion.staging import StagedOutput, plural, split_lines
from diamond_wm.datasets.action_logs import LOG_SUFFIXES, ActionLog, read_action_log
from diamond_wm.datasets.frame_matching import plan_frames
from diamond_wm.datasets.video_episodes import FULL_RES, LOW_RES, StillFrames, video_episodes
from diamond_wm.datasets.video_frames import probe_video

VIDEO_SUFFIXES = (".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v")
DEFAULT_SIZE = (64, 64)
DEFAULT_TEST_FRACTION = 0.1
FORMAT = 2  # 2: an ended episode's last row is its terminal frame, kept as its final observation


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


@dataclass
class ImportSummary:
    """What `import_videos` did; `lines()` is the summary the command prints."""

    out: Path
    spec: ActionSpec
    size: tuple[int, int]
    full_res_size: Optional[tuple[int, int]]
    videos: int = 0
    converted: int = 0
    frames_converted: int = 0  # the log rows of the converted episodes: their steps and terminal frames
    frames_skipped: int = 0  # video frames between rows (resampled by time)
    already_done: int = 0
    episodes: dict[str, int] = field(default_factory=dict)
    steps: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    still: StillFrames = field(default_factory=StillFrames)
    seconds: float = 0.0

    def lines(self) -> list[str]:
        low = self.out / LOW_RES
        lines = [
            f"imported {plural(self.converted, 'episode')} ({plural(self.frames_converted, 'frame')}) from "
            f"{plural(self.videos, 'video')} in {self.seconds:.1f} s; {self.already_done} already done",
        ]
        lines += split_lines(low, self.episodes, self.steps)
        lines.append(f"frames {self.size[0]}x{self.size[1]}, actions: {self.spec.describe()}")
        if self.full_res_size is not None:
            h, w = self.full_res_size
            lines.append(f"full resolution {h}x{w}: {self.out / FULL_RES}/{{train,test}} (same episode ids)")
        if self.frames_skipped:
            lines.append(
                f"matched by time: {plural(self.frames_skipped, 'video frame')} between rows skipped"
            )
        lines += [f"warning: {w}" for w in self.warnings]
        if self.still.count:
            lines.append(
                f"warning: {plural(self.still.count, 'frame')} identical to the frame before (the longest run: "
                f"{self.still.longest}, {self.still.where}): a frozen capture looks like this (so does a still screen)"
            )
        if self.episodes.get("test", 0) == 0:
            lines.append("warning: no test episode (no test losses): raise --test-fraction or add videos")
        lines.append(f"train with: {self.recipe()}")
        return lines

    def recipe(self) -> str:
        """The command that trains a world model on the datasets."""
        low = self.out / LOW_RES
        if not self.spec.is_discrete and self.full_res_size is not None:  # keyboard and mouse, as CS:GO
            return (
                f"diamond train --config-name csgo env.path_data_low_res={low} "
                f"env.path_data_full_res={self.out / FULL_RES}"
            )
        return f"diamond train --config-name world_model static_dataset.path={low}"


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
    overwrite: bool = False,
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
    parsed = {v: read_action_log(logs[v], action_spec) for v in videos}
    rels = {v: v.relative_to(video_dir).as_posix() for v in videos}
    names = {v: [f"{rels[v]}#{i}" for i in range(len(parsed[v].episode_ranges()))] for v in videos}
    ordered = [n for v in videos for n in names[v]]
    test = choose_test_episodes(len(ordered), test_fraction)
    mapping = {
        "train": [n for j, n in enumerate(ordered) if j not in test],
        "test": [n for j, n in enumerate(ordered) if j in test],
    }
    parts = (LOW_RES, FULL_RES) if full_res_size is not None else (LOW_RES,)
    settings = {
        "kind": "import",
        "format": FORMAT,
        "size": list(size),
        "full_res_size": list(full_res_size or ()),
        "spec": action_spec.to_dict(),
        "videos": str(video_dir.resolve()),
    }
    staged = StagedOutput(out, parts, settings)
    staged.check_folder()
    recorded = staged.recorded_settings()
    replace = recorded is not None and recorded != staged.settings
    if replace and not overwrite:
        raise ValueError(
            f"{out} holds datasets imported with other settings: {settings_difference(recorded, staged.settings)}; "
            "give a new folder, or --overwrite to replace them"
        )
    prints = {v: _fingerprint(v, logs[v]) for v in videos}
    pending = {n for v in videos for n in names[v] if replace or not staged.is_done(n, prints[v])}
    todo_videos = [v for v in videos if pending & set(names[v])]
    plans = {}
    for v in todo_videos:  # every video checked against its log before anything is written
        probe = probe_video(v)
        plans[v] = plan_frames(parsed[v], v, probe.times, probe.count, probe.period)
    summary = ImportSummary(out, action_spec, size, full_res_size, videos=len(videos))
    summary.already_done = len(ordered) - len(pending)
    summary.warnings = [w for v in todo_videos for w in plans[v].warnings]
    created = not out.exists()
    if replace:
        staged.remove_all()
    staged.remove_temporary_files()
    written: list[str] = []
    bar = tqdm(
        total=sum(len(parsed[v]) for v in todo_videos),
        unit="frame",
        desc="importing",
        disable=None if progress else True,
    )
    try:
        with bar, StopOnSignals() as stop:
            for v in todo_videos:
                todo = {i for i, n in enumerate(names[v]) if n in pending}
                summary.frames_skipped += plans[v].count - len(parsed[v])
                args = (v, rels[v], parsed[v], plans[v], todo, size, full_res_size, bar, summary.still)
                for i, episodes in video_episodes(*args):
                    stop.check()
                    staged.write(names[v][i], episodes, prints[v])
                    written.append(names[v][i])
                    summary.converted += 1
                    summary.frames_converted += _rows(parsed[v], i)
            stop.check()
    except ValueError:
        staged.discard(written)  # a refusal leaves nothing of this run behind (an interrupt keeps it: resume)
        if created and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise
    staged.prepare(mapping)
    extra = {"videos": str(video_dir), "test_fraction": test_fraction}
    indexes = staged.finalize(mapping, action_spec, extra)
    for split in mapping:
        index = indexes[f"{LOW_RES}/{split}"]
        summary.episodes[split], summary.steps[split] = index.num_episodes, index.num_steps
    summary.seconds = time.perf_counter() - start
    return summary


def _rows(log: ActionLog, i: int) -> int:
    """The rows of episode i of `log`: its steps and, when it ends, its terminal frame."""
    a, b = log.episode_ranges()[i]
    return b - a


def settings_difference(recorded: dict[str, Any], now: dict[str, Any]) -> str:
    """'--size 64x64 (now 32x32), videos from /a (now /b)': what differs between two imports' settings."""

    def size(v: Any) -> str:
        return "x".join(map(str, v)) if v else "none"

    def spec(v: Any) -> str:
        try:
            return ActionSpec.from_dict(v).describe()
        except ValueError:
            return "unreadable"

    if recorded.get("kind") != now["kind"]:
        return f"diamond dataset {recorded.get('kind')} (now diamond dataset {now['kind']})"
    if recorded.get("format") != now["format"]:
        return "an older diamond dataset import (ended episodes without their final observation)"
    shown = {
        "size": ("--size", size),
        "full_res_size": ("--full-res-size", size),
        "spec": ("--action-spec", spec),
        "videos": ("videos from", str),
    }
    parts = []
    for key, (label, text) in shown.items():
        old, new = recorded.get(key), now[key]
        if old != new:
            old_text, new_text = text(old), text(new)
            if old_text == new_text:  # e.g. specs of the same size with other names
                old_text, new_text = f"{old_text}, {old}", f"{new_text}, {new}"
            parts.append(f"{label} {old_text} (now {new_text})")
    return ", ".join(parts) or "other settings"
