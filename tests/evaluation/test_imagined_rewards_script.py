"""scripts/imagined_rewards.py: rewards imagined from real windows against the real ones, on a tiny run."""

from __future__ import annotations

import pytest

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
