"""`diamond eval` in-process: the run's own final evaluation reproduced, seeds, checkpoints, videos."""

from __future__ import annotations

import json

import imageio.v3 as iio
import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.evaluation import video
from diamond_wm.evaluation.evaluate import evaluate, final_evaluation_seed, plan_evaluation
from diamond_wm.loading.agent import LoadError, load_checkpoint, load_run


def test_reproduces_the_runs_final_evaluation_exactly(tiny_run):
    loaded = load_run(tiny_run)
    plan = plan_evaluation(loaded)
    assert plan.num_episodes == 3 and plan.epsilon == 0.0  # collection.test.num_final_episodes, test epsilon
    assert plan.seed == final_evaluation_seed(0, loaded.epoch) and plan.reproduces_run_final
    episodes = EpisodeDataset(None)
    report = evaluate(loaded, plan, dataset=episodes)

    final = json.loads((tiny_run / "FINISHED").read_text())
    assert report.return_mean == final["final/return_mean"] == report.run_final_return_mean
    assert report.length_mean == final["final/length_mean"]
    if "final/returns" in final:
        assert report.returns == final["final/returns"] and report.lengths == final["final/lengths"]
    # The run's test dataset holds the episodes of its final evaluation.
    run_test = EpisodeDataset(tiny_run / "dataset" / "test", read_only=True)
    assert run_test.num_episodes == episodes.num_episodes == 3
    for i in range(3):
        mine, theirs = episodes.load_episode(i), run_test.load_episode(i)
        assert torch.equal(mine.act, theirs.act) and torch.equal(mine.obs, theirs.obs)
        assert report.returns[i] == float(theirs.rew.sum()) and report.lengths[i] == len(theirs)
    d = report.to_dict()
    assert set(d) >= {"returns", "lengths", "return_mean", "return_std", "num_episodes", "seed", "epsilon"}


def test_explicit_seed_and_episode_count(tiny_run):
    loaded = load_run(tiny_run)
    plan = plan_evaluation(loaded, num_episodes=2, seed=7)
    assert not plan.reproduces_run_final and plan.seed == 7
    a, b = evaluate(loaded, plan), evaluate(loaded, plan_evaluation(loaded, num_episodes=2, seed=7))
    assert a.returns == b.returns and a.num_episodes == 2 and a.lengths == [23, 23]
    mean = sum(a.returns) / 2
    assert a.return_std == pytest.approx((sum((r - mean) ** 2 for r in a.returns) / 2) ** 0.5)


def test_checkpoint_files(tiny_run, tmp_path):
    ckpt = sorted((tiny_run / "checkpoints" / "agent_versions").iterdir())[-1]
    loaded = load_checkpoint(ckpt)  # inside its run folder: the run's env
    assert loaded.env.test.id == "diamond_wm/Catch-v0" and loaded.epoch == 2
    # The same weights as a bare (published-layout) state_dict outside any run folder.
    bare = tmp_path / "bare.pt"
    torch.save(loaded.agent.state_dict(), bare)
    with pytest.raises(LoadError, match="give --env-id"):
        load_checkpoint(bare)
    with pytest.raises(LoadError, match="fits none of the packaged agent presets, tried default"):
        load_checkpoint(bare, env_id="diamond_wm/Catch-v0")  # the tiny run's networks are no preset
    again = load_checkpoint(bare, env_id="diamond_wm/Catch-v0", agent_config=loaded.agent.cfg)
    assert again.env.type == "gym" and again.env.test.size == 16
    report = evaluate(again, plan_evaluation(again, num_episodes=1, seed=0))
    assert report.num_episodes == 1


def test_video_real_next_to_imagined(tiny_run, tmp_path, monkeypatch):
    loaded = load_run(tiny_run)
    real, imagined, act = video.real_and_imagined(loaded, seed=0, max_steps=8)
    assert real.shape == imagined.shape == (9, 3, 16, 16) and act.shape == (8,)
    assert torch.equal(real[:4], imagined[:4])  # the shared real context
    assert not torch.equal(real[4:], imagined[4:])

    gif = video.comparison_video(loaded, tmp_path / "a.gif", seed=0, max_steps=8)
    frames = iio.imread(gif, index=None)
    label_h = 32  # "real" / "imagined" above the 256-pixel panels
    assert frames.shape[0] == 9 and frames.shape[1:3] == (label_h + 16 * 16, 2 * 16 * 16 + video.GAP_PX)

    monkeypatch.setattr(video, "has_ffmpeg", lambda: False)
    with pytest.raises(video.VideoError, match="needs the package imageio-ffmpeg"):
        video.comparison_video(loaded, tmp_path / "v.mp4", seed=0, max_steps=3)
    assert [p.name for p in tmp_path.iterdir()] == ["a.gif"]  # no mp4, and no GIF in its place
