"""Ended episodes of imported recordings: the row with end 1 is the terminal frame, kept as the final observation
(at each resolution) that the reward/termination model trains on; datasets of one episode train and read back."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.agent import RewEndModelConfig
from diamond_wm.conversion.resize import resize_frames
from diamond_wm.conversion.synthetic import write_action_log, write_video
from diamond_wm.data import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, make_batch
from diamond_wm.datasets.action_logs import read_action_log
from diamond_wm.datasets.info import describe, verify
from diamond_wm.datasets.video_import import import_videos
from diamond_wm.models.rew_end_model import RewEndModel

SPEC = ActionSpec.discrete(4, ["NOOP", "FIRE", "RIGHT", "LEFT"])


def breakout_like(folder, n=12, end_rows=(5,), seed=0):
    """A 16x16 lossless video of `n` frames and its CSV log: a point on each step before an end row, the end
    rows with no action and no reward, as a Gymnasium recorder writes them."""
    frames = np.random.default_rng(seed).integers(0, 256, (n, 16, 16, 3), dtype=np.uint8)
    write_video(folder / "game.mp4", frames)
    rows = [
        {
            "frame": i,
            "action": "" if i in end_rows else SPEC.names[i % 4],
            "reward": "" if i in end_rows else int(i + 1 in end_rows),
            "end": int(i in end_rows),
        }
        for i in range(n)
    ]
    write_action_log(folder / "game.csv", rows)
    return torch.from_numpy(frames).permute(0, 3, 1, 2)  # (n, 3, 16, 16)


def test_the_terminal_frame_is_the_final_observation_at_each_resolution(tmp_path):
    frames = breakout_like(tmp_path / "videos")
    import_videos(
        tmp_path / "videos", tmp_path / "out", actions="csv", action_spec=SPEC, size=(8, 8),
        full_res_size=(16, 16), test_fraction=0, progress=False,
    )  # fmt: skip
    low = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True)
    full = EpisodeDataset(tmp_path / "out" / "full_res" / "train", read_only=True)
    assert (
        list(low.lengths) == list(full.lengths) == [5, 6]
    )  # rows 0-5: 5 steps + terminal frame 5; rows 6-11
    ended, unfinished = low.load_episode(0), low.load_episode(1)
    assert ended.end.tolist() == [0, 0, 0, 0, 1] and ended.rew.tolist() == [0, 0, 0, 0, 1]
    assert ended.act.tolist() == [0, 1, 2, 3, 0]
    assert torch.equal(ended.obs, resize_frames(frames[:5], (8, 8)))
    assert torch.equal(ended.final_observation, resize_frames(frames[5:6], (8, 8))[0])
    assert torch.equal(
        full.load_episode(0).final_observation, frames[5]
    )  # the full-resolution copy has it too
    assert torch.equal(full.load_episode(0).obs, frames[:5])
    assert unfinished.final_observation is None and not unfinished.end.any() and len(unfinished) == 6
    assert torch.equal(unfinished.obs, resize_frames(frames[6:], (8, 8)))
    assert low.counts_end == [10, 1]


def test_the_reward_model_trains_on_an_imported_end(tmp_path):
    breakout_like(tmp_path / "videos")
    import_videos(
        tmp_path / "videos", tmp_path / "out", actions="csv", action_spec=SPEC, size=(16, 16), test_fraction=0,
        progress=False,
    )  # fmt: skip
    ds = EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True)
    batch = make_batch(ds, [SegmentId(0, 1, 6), SegmentId(1, 0, 5)])  # the first segment reaches the end
    assert batch.end[0].tolist() == [0, 0, 0, 1, 0] and "final_observation" in batch.info[0]
    cfg = RewEndModelConfig(
        lstm_dim=8,
        img_size=16,
        cond_channels=8,
        depths=[1, 1],
        channels=[4, 4],
        attn_depths=[0, 0],
        num_actions=4,
    )
    model = RewEndModel(cfg)
    loss, metrics = model.compute_loss(batch)
    assert torch.isfinite(loss)
    del batch.info[0]["final_observation"]  # an older import: ends without their final observation
    with pytest.raises(ValueError) as info:
        model.compute_loss(batch)
    assert len(str(info.value).splitlines()) == 1
    assert str(info.value).endswith("import the recordings again with diamond dataset import --overwrite")


@pytest.mark.parametrize(
    "rows, fragment, line",
    [
        (
            [{"action": 1, "reward": 0, "end": 0}, {"action": "", "reward": 1, "end": 1}],
            "reward '1' on a row with end 1: that row is the terminal frame, from which no action is taken; the "
            "reward of the step that ended the episode belongs on the row before",
            3,
        ),
        ([{"action": 1, "end": 1}, {"action": 2, "end": 0}], "end 1 on the first row of an episode", 2),
        (
            [{"action": 1, "end": 0}, {"action": "", "end": 1}, {"action": "", "end": 1}],
            "end 1 on the first row of an episode",
            4,
        ),
    ],
)
def test_an_end_row_with_a_reward_or_without_a_step_before_is_refused(tmp_path, rows, fragment, line):
    path = write_action_log(tmp_path / "game.csv", rows)
    with pytest.raises(ValueError) as info:
        read_action_log(path, SPEC)
    assert str(info.value).startswith(f"{path}: line {line}: ") and fragment in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_a_one_episode_import_without_test_split_reads_back_everywhere(tmp_path):
    breakout_like(tmp_path / "videos", end_rows=(11,))
    summary = import_videos(
        tmp_path / "videos", tmp_path / "out", actions="csv", action_spec=SPEC, size=(16, 16), test_fraction=0.5,
        progress=False,
    )  # fmt: skip
    assert summary.episodes == {"train": 1, "test": 0}
    assert "warning: no test episode (no test losses): raise --test-fraction or add videos" in summary.lines()
    test = EpisodeDataset(tmp_path / "out" / "low_res" / "test", read_only=True)
    assert test.num_episodes == 0
    lines = describe(tmp_path / "out")
    assert any(line.startswith("low_res/test: 0 episodes, 0 steps") for line in lines), lines
    result = verify(tmp_path / "out", progress=False)
    assert result.problems == [] and len(result.checked) == 2


def test_a_tiny_training_runs_on_a_one_episode_import(tmp_path):
    """World model and reward/termination model train on an import with an end and an empty test split."""
    from diamond_wm.training.metrics import read_metrics
    from diamond_wm.training.trainer import Trainer
    from tests.training.test_static_run import tiny_static_config

    breakout_like(tmp_path / "videos", n=20, end_rows=(19,))
    import_videos(
        tmp_path / "videos", tmp_path / "out", actions="csv", action_spec=SPEC, size=(16, 16), test_fraction=0,
        progress=False,
    )  # fmt: skip
    cfg = tiny_static_config(tmp_path / "out" / "low_res", "training.model_free=false")
    trainer = Trainer(cfg, tmp_path / "run", show_progress=False)
    trainer.run()
    assert (tmp_path / "run" / "FINISHED").is_file()
    epochs = [m for m in read_metrics(tmp_path / "run" / "metrics.jsonl") if "epoch" in m]
    assert epochs[-1]["denoiser/num_updates"] > 0 and epochs[-1]["rew_end_model/num_updates"] > 0
