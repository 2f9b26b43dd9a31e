"""scripts/reward_by_action.py: a reward model's probabilities by reward and by action, on real transitions."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.data import EpisodeDataset
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.evaluation.drift_run import open_episodes
from tests.conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("reward_by_action")


def _batches(drift_runs, n=2, length=6):
    ds = open_episodes(drift_runs["dataset"] / "test")
    sampler = SegmentSampler(
        ds, 8, length, None, can_sample_beyond_end=True, generator=torch.Generator().manual_seed(0)
    )
    return [sampler.sample() for _ in range(n)]


class ActionOnly(torch.nn.Module):
    """A reward model whose logit of +1 is the action's index, whatever the frames."""

    def transition_logits(self, batch):
        act = batch.act[:, :-1][batch.mask_padding[:, :-1]].float()
        target = batch.rew[:, :-1][batch.mask_padding[:, :-1]].sign().long() + 1
        logits = torch.stack([torch.full_like(act, -9.0), torch.zeros_like(act), act], 1)
        return logits, target, None, None


def test_a_model_that_reads_only_the_action_is_seen_so(script, drift_runs):
    batches = _batches(drift_runs)
    lines = script.report(ActionOnly(), batches, ["A", "B", "C"])
    p = [
        torch.tensor([0.0, float(a)]).softmax(0)[1].item() for a in range(3)
    ]  # p(+1) of action a (p(-1) ~ 0)
    rows = lines[lines.index("every action replaced by one action: mean p(+1), p(-1)") + 1 :]
    assert [r.split()[0] for r in rows[:3]] == ["C", "B", "A"]
    assert [float(r.split()[1]) for r in rows[:3]] == pytest.approx([p[2], p[1], p[0]], abs=1e-3)
    assert rows[3] == f"largest / smallest mean p(+1): {p[2] / p[0]:.2f}x"
    target = torch.cat([b.rew[:, :-1][b.mask_padding[:, :-1]] for b in batches])
    assert lines[0] == (
        f"{len(target)} transitions: {int((target > 0).sum())} rewarded +1, {int((target == 0).sum())} rewarded 0, "
        f"{int((target < 0).sum())} rewarded -1"
    )


def test_a_real_model_without_its_action_embedding_gives_every_action_the_same(script, drift_runs):
    model, length = script.load_reward_model(str(drift_runs["edm"]))
    assert length == 19  # the run's reward/termination segments: horizon 15 + 4 conditioning frames
    with torch.no_grad():
        model.act_emb.weight.zero_()
    lines = script.report(model, _batches(drift_runs), ["NOOP", "LEFT", "RIGHT"])
    assert lines[-1] == "largest / smallest mean p(+1): 1.00x"
    values = {line.split()[1] for line in lines[-4:-1]}
    assert len(values) == 1


def test_main_prints_each_class_and_action(script, drift_runs, capsys):
    assert script.main([str(drift_runs["edm"]), str(drift_runs["dataset"] / "test"), "--batches", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("rewarded -1") and out[-1].startswith("largest / smallest mean p(+1): ")
    assert len(out) == 1 + sum(line.startswith("  rewarded") for line in out) + 1 + 3 + 1


def test_bad_arguments_are_named(script, drift_runs, tmp_path):
    with pytest.raises(
        SystemExit, match=f"reward_by_action: DATASET_DIR {tmp_path / 'none'}: folder not found"
    ):
        script.main([str(drift_runs["edm"]), str(tmp_path / "none")])
    with pytest.raises(SystemExit, match=f"reward_by_action: MODEL model not found: {tmp_path / 'x.pt'}"):
        script.main([str(tmp_path / "x.pt"), str(drift_runs["dataset"] / "test")])
    with pytest.raises(SystemExit):
        script.main([str(drift_runs["edm"]), str(drift_runs["dataset"] / "test"), "--batches", "0"])


def test_multi_hot_episodes_are_refused_by_name(script, drift_runs, tmp_path):
    from tests.data.test_action_specs import MULTI_HOT, multi_hot_episode

    ds = EpisodeDataset(tmp_path / "csgo", action_spec=MULTI_HOT)
    ds.add_episode(multi_hot_episode(6))
    ds.close()
    with pytest.raises(SystemExit, match=r"needs discrete actions \(one per step\), got multi_hot actions"):
        script.main([str(drift_runs["edm"]), str(tmp_path / "csgo")])
