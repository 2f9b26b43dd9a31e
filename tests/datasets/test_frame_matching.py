"""Rows and frames lined up: one row per frame, or by time (a faster video resampled), with dropped, duplicated and
frozen frames reported; frames decoded as RGB."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

from diamond_wm.config.actions import ActionSpec
from diamond_wm.conversion.synthetic import write_action_log, write_video
from diamond_wm.data import EpisodeDataset
from diamond_wm.datasets.action_logs import read_action_log
from diamond_wm.datasets.frame_matching import plan_frames
from diamond_wm.datasets.video_frames import probe_video
from diamond_wm.datasets.video_import import import_videos

SPEC = ActionSpec.discrete(3)


def frames_of(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)


def write_video_at(path: Path, frames: np.ndarray, pts: list[int], fps: int = 10) -> Path:
    """A lossless video whose frame k is shown at pts[k] / fps seconds (gaps and repeats as given)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264rgb", rate=fps)
        stream.width, stream.height, stream.pix_fmt, stream.options = 8, 8, "rgb24", {"qp": "0"}
        stream.codec_context.time_base = Fraction(1, fps)
        for frame, t in zip(frames, pts, strict=True):
            f = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            f.pts, f.time_base = t, Fraction(1, fps)
            for packet in stream.encode(f):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def do_import(videos: Path, out: Path, **kwargs):
    return import_videos(videos, out, actions="csv", action_spec=SPEC, size=(8, 8), test_fraction=0, progress=False,
                         **kwargs)  # fmt: skip


def test_a_video_at_twice_the_log_rate_is_resampled_by_time(tmp_path):
    frames = frames_of(20)
    write_video(tmp_path / "v" / "game.mp4", frames, fps=30)
    rows = [{"time": 50 + i / 15, "action": i % 3} for i in range(10)]  # 15 rows/s, wall-clock times
    write_action_log(tmp_path / "v" / "game.csv", rows)
    summary = do_import(tmp_path / "v", tmp_path / "out")
    ep = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True).load_episode(0)
    assert torch.equal(ep.obs, torch.from_numpy(frames[::2]).permute(0, 3, 1, 2))  # row k: frame 2k
    assert ep.act.tolist() == [i % 3 for i in range(10)]
    assert "matched by time: 10 video frames between rows skipped" in summary.lines()
    # Without times, the same log has half the rows the video has frames: refused, naming the frame
    write_action_log(tmp_path / "v" / "game.csv", [{"frame": i, "action": 0} for i in range(10)])
    with pytest.raises(
        ValueError, match=r"game.mp4: frame 10 has no row in .*game.csv \(its last row is line 11\)"
    ):
        do_import(tmp_path / "v", tmp_path / "o2")


def test_a_log_faster_than_its_video_is_refused_naming_both_rates(tmp_path):
    write_video(tmp_path / "v" / "game.mp4", frames_of(10), fps=10)
    write_action_log(tmp_path / "v" / "game.csv", [{"time": i / 20, "action": 0} for i in range(20)])
    with pytest.raises(ValueError) as info:
        do_import(tmp_path / "v", tmp_path / "out")
    text = str(info.value)
    assert (
        "game.csv: lines 2 and 3: times 0.000 s and 0.050 s (from the first row) both fall on frame 0" in text
    )
    assert text.endswith("one row per frame at most (the log: 20.0 rows/s, the video: 10.0 frames/s)")
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_dropped_and_duplicated_frames_are_reported(tmp_path):
    video = write_video_at(
        tmp_path / "v" / "game.mp4", frames_of(6), [0, 1, 2, 5, 6, 7]
    )  # frames 3, 4 dropped
    probe = probe_video(video)
    assert (
        probe.count == 6
        and probe.times == pytest.approx([0, 0.1, 0.2, 0.5, 0.6, 0.7])
        and probe.period == pytest.approx(0.1)
    )
    # With times, the rows of the missing frames have none
    rows = [{"time": i / 10, "action": 0} for i in range(8)]
    log = read_action_log(write_action_log(tmp_path / "v" / "game.csv", rows), SPEC)
    with pytest.raises(ValueError, match=r"line 5: time 0.300 s .* no frame of .* lies within half a frame of it \(frame 2 is at "
                                         r"0.200 s, frame 3 at 0.500 s: dropped frames\?"):  # fmt: skip
        plan_frames(log, video, probe.times, probe.count, probe.period)
    # With one row per frame, the rows after the gap no longer show what their actions did: a warning line
    write_action_log(tmp_path / "v" / "game.csv", [{"frame": i, "action": 0} for i in range(6)])
    lines = do_import(tmp_path / "v", tmp_path / "out").lines()
    warning = [line for line in lines if line.startswith("warning: ") and "game.mp4" in line]
    assert warning == [
        f"warning: {video}: frame 3 at 0.500 s comes 3.0 frame periods after frame 2 (dropped frames?); 1 gap(s) of "
        "more than 1.5 frame periods, 0 repeated time(s); its rows are taken as one per frame"
    ]
    # ... and a log with a row more (the dropped frame's) is refused with the same hint
    write_action_log(tmp_path / "v" / "game.csv", [{"frame": i, "action": 0} for i in range(7)])
    with pytest.raises(
        ValueError, match=r"row 6 has no frame: .* has 6 frames \(game.mp4: frame 3 at 0.500 s comes"
    ):
        do_import(tmp_path / "v", tmp_path / "o2")


def test_identical_consecutive_frames_are_counted_in_a_warning(tmp_path):
    frames = frames_of(10)
    frames[4:8] = frames[3]  # frames 4-7 repeat frame 3: a frozen capture
    frames[9] = frames[8]
    write_video(tmp_path / "v" / "game.mp4", frames)
    write_action_log(tmp_path / "v" / "game.csv", [{"frame": i, "action": 0} for i in range(10)])
    lines = do_import(tmp_path / "v", tmp_path / "out").lines()
    assert (
        "warning: 5 frames identical to the frame before (the longest run: 4, game.mp4 frames 4-7): a frozen "
        "capture looks like this (so does a still screen)"
    ) in lines


@pytest.mark.parametrize("codec", ["libx264rgb", "mpeg4"])
def test_frames_are_rgb_a_red_video_imports_red(tmp_path, codec):
    red = np.zeros((4, 16, 16, 3), dtype=np.uint8)
    red[..., 0] = 255
    write_video(tmp_path / "v" / "red.mp4", red, codec=codec)  # mpeg4: yuv420p, lossy
    write_action_log(tmp_path / "v" / "red.csv", [{"frame": i, "action": 0} for i in range(4)])
    import_videos(tmp_path / "v", tmp_path / "out", actions="csv", action_spec=SPEC, size=(16, 16), test_fraction=0,
                  progress=False)  # fmt: skip
    obs = (
        EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True).load_episode(0).obs
    )  # (4, 3, H, W)
    assert obs[:, 0].min() > 240 and obs[:, 1:].max() < 15
