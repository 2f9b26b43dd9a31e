"""Recording a real ALE game as videos + action logs: the log's rows line up with the video's frames, and the
reference frames are the paper's own 64x64 environment's frames for the same seed and actions."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from diamond_wm.config.env import GameConfig
from diamond_wm.datasets.record_atari import main, psnr
from diamond_wm.datasets.video_frames import iter_video_frames
from diamond_wm.envs.atari import make_atari_env

GAME = "BreakoutNoFrameskip-v4"


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    out = tmp_path_factory.mktemp("rec")
    assert main(["record", GAME, str(out), "--videos", "1", "--frames", "260", "--seed", "0"]) == 0
    return out


def test_log_has_one_row_per_frame_and_terminal_rows_take_no_action(recording):
    rows = list(csv.DictReader((recording / "breakout_000.csv").open(newline="")))
    frames = list(iter_video_frames(recording / "breakout_000.mp4"))
    assert len(rows) == len(frames) == 260
    assert [int(r["frame"]) for r in rows] == list(range(260))
    ends = [i for i, r in enumerate(rows) if r["end"] == "1"]
    assert ends, "a random Breakout game lasts about 250 steps: the seed-0 game ends at frame 192"
    for i in ends:
        assert rows[i]["action"] == "" and rows[i]["reward"] == ""
    names = {r["action"] for r in rows if r["end"] == "0"}
    assert names <= {"NOOP", "FIRE", "RIGHT", "LEFT"} and len(names) > 1
    assert frames[0][0].shape == (210, 160, 3)


def test_reference_frames_are_the_environments_own(recording):
    """Replaying the logged actions in the project's 64x64 Atari environment with the same seed gives the
    recorded reference frames exactly, up to the first game over (the reset draws differ after it)."""
    rows = list(csv.DictReader((recording / "breakout_000.csv").open(newline="")))
    refs = np.load(recording / "breakout_000.npz")["frames"]
    env = make_atari_env(GameConfig(id=GAME, size=64, noop_max=30, frame_skip=4))
    names = list(env.unwrapped.get_action_meanings())
    obs, _ = env.reset(seed=0)
    t = 0
    while rows[t]["end"] == "0":
        np.testing.assert_array_equal(obs, refs[t], err_msg=f"frame {t}")
        obs, *_ = env.step(names.index(rows[t]["action"]))
        t += 1
    np.testing.assert_array_equal(obs, refs[t], err_msg=f"terminal frame {t}")
    env.close()


def test_video_frames_are_close_to_the_full_resolution_game(recording):
    """The H.264 video is lossy but faithful: its first frame, resized as the environment resizes, is within a
    few levels of the reference frame."""
    from diamond_wm.datasets.record_atari import reference_frame

    frame = next(iter(iter_video_frames(recording / "breakout_000.mp4")))[0]
    refs = np.load(recording / "breakout_000.npz")["frames"]
    assert psnr(reference_frame(frame), refs[0]) > 30


def test_bad_arguments_are_one_line(tmp_path, capsys):
    assert main(["record", "Breakout-v99", str(tmp_path / "x")]) == 2
    assert "unknown Atari env id 'Breakout-v99'" in capsys.readouterr().err
    assert main(["record", GAME, str(tmp_path / "y"), "--frames", "1"]) == 2
    assert "expected at least 1 video of at least 2 frames" in capsys.readouterr().err
