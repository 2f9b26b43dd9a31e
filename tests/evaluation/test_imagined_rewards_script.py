"""scripts/imagined_rewards.py: rewards imagined from real windows against the real ones, on a tiny run."""

from __future__ import annotations

import imageio.v3 as iio
import pytest
import torch

from diamond_wm.data import EpisodeDataset
from diamond_wm.evaluation.drift import select_contexts
from tests.conftest import load_script


def test_it_counts_the_real_and_imagined_rewards_of_the_windows(drift_runs, capsys):
    script = load_script("imagined_rewards")
    test_dir = drift_runs["dataset"] / "test"
    assert (
        script.main(
            [str(drift_runs["edm"]), str(test_dir), "--per-episode", "3", "--horizon", "5", "--steps", "2"]
        )
        == 0
    )
    out = capsys.readouterr().out.splitlines()
    dataset = EpisodeDataset(test_dir, name="test")
    contexts = select_contexts(dataset, 4, 5, per_episode=3, seed=0)
    real = [
        dataset.load_episode(i).rew[start + 3 : start + 8].sign()
        for i, start in zip(contexts.episodes, contexts.starts, strict=True)
    ]
    assert out[0].endswith(f"{contexts.num_contexts} windows of 5 steps, 2 Euler step(s) per imagined frame")
    for line, sign in zip(out[1:3], (-1, 1), strict=True):
        assert line.startswith(
            f"reward {sign:+d}: real {sum(int((r == sign).sum()) for r in real)}, imagined "
        )
    assert out[3].startswith("return per window: real ")


def test_a_missing_dataset_is_named(drift_runs, tmp_path):
    script = load_script("imagined_rewards")
    with pytest.raises(SystemExit, match="imagined_rewards: "):
        script.main([str(drift_runs["edm"]), str(tmp_path / "nowhere")])


def test_one_step_imagines_each_step_from_the_real_frames(drift_runs, capsys):
    """With one step per window both ways draw the same reward from the same real frames; with more they differ
    only in where each step starts from, and the header says which."""
    script = load_script("imagined_rewards")
    args = [str(drift_runs["edm"]), str(drift_runs["dataset"] / "test"), "--per-episode", "3", "--steps", "2"]
    outputs = []
    for extra in ([], ["--one-step"]):
        assert script.main([*args, "--horizon", "1", *extra]) == 0
        outputs.append(capsys.readouterr().out.splitlines())
    autoregressive, one_step = outputs
    assert one_step[0] == autoregressive[0] + ", each from the real frames before it"
    assert one_step[1:] == autoregressive[1:]


def test_one_step_rows_draw_apart(monkeypatch):
    """Step k of the one-step rewards uses its own rows' draws, so its rewards are not step 0's repeated."""
    script = load_script("imagined_rewards")
    calls = []

    class Recorder:
        num_steps_conditioning = 4

    def fake_steps(world_model, obs, act, horizon, rows):
        calls.append((list(rows), obs.shape[1], act.shape[1], horizon))
        yield type("Out", (), {"rew": torch.zeros(obs.shape[0])})()

    monkeypatch.setattr(script, "imagined_steps", fake_steps)
    obs, act = torch.zeros(2, 7, 3, 8, 8, dtype=torch.uint8), torch.zeros(2, 7, dtype=torch.long)
    assert script.one_step_rewards(Recorder(), obs, act, 3).shape == (2, 3)
    assert calls == [([0, 1], 4, 4, 1), ([2, 3], 4, 4, 1), ([4, 5], 4, 4, 1)]


def test_the_picture_shows_the_rewarded_steps_real_and_imagined(drift_runs, tmp_path, capsys):
    """Windows as long as the episodes reach their ends, where Catch rewards: rows of the rewarded steps."""
    script = load_script("imagined_rewards")
    test_dir = drift_runs["dataset"] / "test"
    png = tmp_path / "steps.png"
    args = [
        str(drift_runs["edm"]),
        str(test_dir),
        "--per-episode",
        "1",
        "--horizon",
        "1000",
        "--picture",
        str(png),
    ]
    assert script.main(args) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    dataset = EpisodeDataset(test_dir, name="test")
    contexts = select_contexts(dataset, 4, 1000, per_episode=1, seed=0)
    h = contexts.horizon
    rewarded = [
        (w, k)
        for w, (i, start) in enumerate(zip(contexts.episodes, contexts.starts, strict=True))
        for k in range(h)
        if dataset.load_episode(i).rew[start + 3 + k] != 0
    ][:6]
    assert rewarded, "the test needs windows with rewards"
    assert last == f"{png}: {len(rewarded)} rewarded steps"
    image = iio.imread(png)
    w, k = rewarded[0]
    real_next = contexts.obs[w, k + 4].permute(1, 2, 0).numpy().repeat(4, 0).repeat(4, 1)
    ph, pw = real_next.shape[:2]
    label_h = image.shape[0] - len(rewarded) * ph - (len(rewarded) - 1) * 4
    assert image.shape[1] == 3 * pw + 2 * 4 and label_h > 0
    # the first row's middle panel is the real next frame of the first rewarded step, pixel for pixel
    assert (image[label_h : label_h + ph, pw + 4 : 2 * pw + 4] == real_next).all()
