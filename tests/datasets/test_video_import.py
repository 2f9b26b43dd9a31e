"""`import_videos`: gameplay videos + action logs -> datasets; mismatches are one line naming the file and the row."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

from diamond_wm.config.actions import ActionSpec
from diamond_wm.conversion.resize import resize_frames
from diamond_wm.conversion.synthetic import write_action_log, write_video
from diamond_wm.data import EpisodeDataset
from diamond_wm.datasets.video_frames import iter_video_frames
from diamond_wm.datasets.video_import import choose_test_episodes, import_videos
from diamond_wm.envs.csgo.actions import csgo_action_spec
from tests.datasets.conftest import tree_bytes

SPEC = ActionSpec.discrete(4)


def frames_of(seed: int, n: int, h: int = 24, w: int = 32) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def make_game(folder, lengths=(10, 7), ends=((4,), ())):
    """Videos `game0.mp4`, `game1.mp4`, ... (lossless) with CSV logs; `ends`: rows with end 1 per video."""
    for v, (n, end_rows) in enumerate(zip(lengths, ends, strict=True)):
        write_video(folder / f"game{v}.mp4", frames_of(v, n))
        rows = [
            {"frame": i, "action": (i + v) % 4, "reward": float(i == 3), "end": int(i in end_rows)}
            for i in range(n)
        ]
        write_action_log(folder / f"game{v}.csv", rows)
    return folder


def test_lossless_video_frames_and_logs_become_episodes(tmp_path):
    videos = make_game(tmp_path / "videos")
    assert np.array_equal(
        np.stack([f for f, _, _ in iter_video_frames(videos / "game0.mp4")]), frames_of(0, 10)
    )
    summary = import_videos(
        videos,
        tmp_path / "out",
        actions="csv",
        action_spec=SPEC,
        size=(24, 32),
        test_fraction=0.34,
        progress=False,
    )
    # game0's row 4 has end 1: episode game0#0 is rows 0-4 (steps 0-3, frame 4 its final observation), game0#1 rows
    # 5-9, game1#0 rows 0-6; the middle one is the test one
    assert summary.episodes == {"train": 2, "test": 1} and summary.steps == {"train": 11, "test": 5}
    assert summary.frames_converted == 17
    train = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True)
    test = EpisodeDataset(tmp_path / "out" / "low_res" / "test", read_only=True)
    assert train.action_spec == SPEC and list(train.lengths) == [4, 7] and list(test.lengths) == [5]
    first, second, third = train.load_episode(0), test.load_episode(0), train.load_episode(1)
    frames = torch.from_numpy(frames_of(0, 10)).permute(0, 3, 1, 2)
    assert torch.equal(first.obs, frames[:4])  # same size: as is
    assert torch.equal(first.final_observation, frames[4])  # the terminal frame
    assert first.act.tolist() == [0, 1, 2, 3] and first.end.tolist() == [0, 0, 0, 1] and first.rew[3] == 1
    assert torch.equal(second.obs, frames[5:]) and second.final_observation is None and not second.end.any()
    assert second.info == {"original_file_id": "game0.mp4", "original_first_frame": 5}
    assert third.act.tolist() == [1, 2, 3, 0, 1, 2, 3] and not third.end.any() and not third.trunc.any()


def test_resized_frames_and_full_res_copy(tmp_path):
    videos = make_game(tmp_path / "videos", lengths=(6,), ends=((),))
    import_videos(
        videos,
        tmp_path / "out",
        actions="csv",
        action_spec=SPEC,
        size=(6, 8),
        full_res_size=(12, 16),
        test_fraction=0,
        progress=False,
    )
    x = torch.from_numpy(frames_of(0, 6)).permute(0, 3, 1, 2).contiguous()
    low = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True).load_episode(0)
    full = EpisodeDataset(tmp_path / "out" / "full_res" / "train", read_only=True).load_episode(0)
    assert torch.equal(low.obs, resize_frames(x, (6, 8))) and low.obs.shape == (6, 3, 6, 8)
    assert torch.equal(full.obs, resize_frames(x, (12, 16))) and torch.equal(full.act, low.act)
    with pytest.raises(ValueError, match="same whole multiple of --size 6x8"):
        import_videos(
            videos, tmp_path / "o2", actions="csv", action_spec=SPEC, size=(6, 8), full_res_size=(12, 24)
        )


def test_csgo_actions_from_a_folder_of_jsonl_logs_and_timestamps(tmp_path):
    videos, logs = tmp_path / "videos", tmp_path / "logs"
    write_video(videos / "match.mp4", frames_of(3, 5), fps=10)
    logs.mkdir()
    rows = [
        {"time": 100 + i / 10, "keys": ["w", "l_click"] if i % 2 else [], "mouse_x": 10 * i} for i in range(5)
    ]
    write_action_log(logs / "match.jsonl", rows)
    import_videos(
        videos,
        tmp_path / "out",
        actions=str(logs),
        action_spec=csgo_action_spec(),
        size=(12, 16),
        test_fraction=0,
        progress=False,
    )
    ep = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True).load_episode(0)
    csgo_action_spec().validate(ep.act)
    assert ep.act[1, 0] == 1 and ep.act[1, 11] == 1 and ep.act[0, :13].sum() == 0
    rows[3]["time"] = 100.38  # nearest to frame 4 (0.4 s), the frame of the next row
    write_action_log(logs / "match.jsonl", rows)
    with pytest.raises(
        ValueError, match=r"match.jsonl: lines 4 and 5: times 0.380 s and 0.400 s .* both fall on frame 4 of "
    ):
        import_videos(
            videos,
            tmp_path / "o2",
            actions=str(logs),
            action_spec=csgo_action_spec(),
            test_fraction=0,
            progress=False,
        )


@pytest.mark.parametrize(
    "rows, fragment",
    [(12, "game0.csv: line 12: row 10 has no frame"), (8, "game0.mp4: frame 8 has no row in")],
)
def test_a_frame_count_that_differs_from_the_log_names_the_file_and_the_row(tmp_path, rows, fragment):
    videos = tmp_path / "videos"
    write_video(videos / "game0.mp4", frames_of(0, 10))
    write_action_log(videos / "game0.csv", [{"frame": i, "action": 0} for i in range(rows)])
    with pytest.raises(ValueError) as info:
        import_videos(videos, tmp_path / "out", actions="csv", action_spec=SPEC, progress=False)
    assert fragment in str(info.value) and len(str(info.value).splitlines()) == 1
    assert not (tmp_path / "out" / "low_res").exists()  # no dataset is laid out from a failed import


def test_an_unreadable_video_is_named(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "broken.mp4").write_bytes(b"\x00" * 1000)
    write_action_log(videos / "broken.csv", [{"action": 0}])
    with pytest.raises(ValueError, match=r"broken.mp4: unreadable video"):
        import_videos(videos, tmp_path / "out", actions="csv", action_spec=SPEC, progress=False)


def test_rerun_skips_finished_videos_and_redoes_an_edited_log(tmp_path):
    videos = make_game(tmp_path / "videos")
    kwargs = dict(actions="csv", action_spec=SPEC, size=(12, 16), test_fraction=0.34, progress=False)
    import_videos(videos, tmp_path / "out", **kwargs)
    again = import_videos(videos, tmp_path / "out", **kwargs)
    assert (again.converted, again.already_done) == (0, 3)
    write_action_log(videos / "game1.csv", [{"frame": i, "action": 3} for i in range(7)])
    edited = import_videos(videos, tmp_path / "out", **kwargs)
    assert (edited.converted, edited.already_done) == (1, 2)
    fresh = import_videos(videos, tmp_path / "fresh", **kwargs)
    assert fresh.converted == 3 and tree_bytes(tmp_path / "out") == tree_bytes(tmp_path / "fresh")


def test_test_episodes_spread_evenly():
    assert choose_test_episodes(10, 0.1) == {5} and choose_test_episodes(10, 0.2) == {2, 7}
    assert (
        choose_test_episodes(1, 0.5) == set()
        and choose_test_episodes(2, 0.01) == {1}
        and choose_test_episodes(5, 0) == set()
    )
    with pytest.raises(ValueError, match="--test-fraction 1"):
        choose_test_episodes(3, 1)
