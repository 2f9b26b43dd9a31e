"""scripts/actor_critic_gates.py: the actor-critic's LSTM gates on real frames, shut and open."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from diamond_wm.data import EpisodeDataset
from diamond_wm.data.frames import to_float_frames
from diamond_wm.loading.agent import load_checkpoint
from tests.conftest import load_script


def _checkpoint(run):
    return sorted((run / "checkpoints" / "agent_versions").glob("agent_epoch_*.pt"))[-1]


def _frames(drift_runs, steps=12):
    ds = EpisodeDataset(drift_runs["dataset"] / "test", read_only=True)
    return to_float_frames(ds.load_steps(ds.num_episodes - 1, 0, steps).obs)


@pytest.mark.parametrize("bias, shut", [(-30.0, 1.0), (30.0, 0.0)])
def test_an_output_gate_biased_shut_or_open_is_seen_so(drift_runs, bias, shut):
    script = load_script("actor_critic_gates")
    ac = load_checkpoint(_checkpoint(drift_runs["edm"]), require_env=False).agent.actor_critic.eval()
    n = ac.lstm.hidden_size
    with torch.no_grad():
        ac.lstm.bias_ih[3 * n :] = (
            bias  # the output gate's rows (PyTorch's order: input, forget, cell, output)
        )
        ac.actor_linear.weight.normal_()  # a policy that depends on h
    stats = script.gate_statistics(ac, _frames(drift_runs))
    assert stats["shut"] == shut
    assert stats["output"] == pytest.approx(1.0 - shut, abs=1e-6)
    if shut:
        assert (
            stats["|h|"] < 1e-9 and stats["logit spread"] < 1e-6
        )  # nothing of the frames reaches the policy
    else:
        assert stats["|h|"] > 0 and stats["logit spread"] > 0
        assert 0 < stats["input"] < 1 and 0 < stats["forget"] < 1
    critic = ac.critic_linear
    assert stats["value ceiling"] == pytest.approx(
        float((critic.weight.abs().sum() + critic.bias.abs().sum()).detach())
    )
    assert abs(stats["value"]) <= stats["value ceiling"] + 1e-6


def test_the_value_and_its_ceiling_are_in_the_scaled_units(drift_runs):
    """`agent.actor_critic.value_scale`: the value is the head's output times the scale, and so is its ceiling."""
    script = load_script("actor_critic_gates")
    ac = load_checkpoint(_checkpoint(drift_runs["edm"]), require_env=False).agent.actor_critic.eval()
    with torch.no_grad():
        ac.critic_linear.weight.normal_(generator=torch.Generator().manual_seed(0))
    plain = script.gate_statistics(ac, _frames(drift_runs))
    ac.cfg = dataclasses.replace(ac.cfg, value_scale=10.0)
    scaled = script.gate_statistics(ac, _frames(drift_runs))
    assert plain["value"] != 0
    assert scaled["value"] == pytest.approx(10 * plain["value"], rel=1e-5)
    assert scaled["value ceiling"] == pytest.approx(10 * plain["value ceiling"], rel=1e-6)
    assert scaled["|h|"] == plain["|h|"]


def test_it_prints_one_line_per_checkpoint(drift_runs, capsys):
    script = load_script("actor_critic_gates")
    ckpt = str(_checkpoint(drift_runs["edm"]))
    assert script.main([ckpt, ckpt, "--dataset", str(drift_runs["dataset"] / "test"), "--steps", "5"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("5 steps of episode 2 of ")
    assert out[1] == "checkpoint | " + " | ".join(script.COLUMNS)
    assert len(out) == 4 and all(len(line.split(" | ")) == 1 + len(script.COLUMNS) for line in out[2:])


def test_bad_arguments_are_named(drift_runs, tmp_path, capsys):
    script = load_script("actor_critic_gates")
    with pytest.raises(SystemExit, match=r"actor_critic_gates: .*nowhere.*does not exist"):
        script.main([str(tmp_path / "x.pt"), "--dataset", str(tmp_path / "nowhere")])
    EpisodeDataset(tmp_path / "empty").save_index()
    with pytest.raises(SystemExit, match="empty holds no episode"):
        script.main([str(tmp_path / "x.pt"), "--dataset", str(tmp_path / "empty")])
    with pytest.raises(SystemExit):
        script.main([str(tmp_path / "x.pt"), "--dataset", str(tmp_path / "empty"), "--steps", "0"])
    assert "--steps must be a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit, match=r"actor_critic_gates: .*missing\.pt"):
        script.main([str(tmp_path / "missing.pt"), "--dataset", str(drift_runs["dataset"] / "test")])
