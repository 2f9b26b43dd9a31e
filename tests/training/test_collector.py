"""Collector: episodes go into the dataset whole and unmixed, training episodes continue across calls, test
collection starts afresh, the policy's LSTM state is reset at episode ends, and a resume closes open episodes."""

from __future__ import annotations

import io
import logging
import sys
from typing import NamedTuple

import pytest
import torch
from torch import nn

from diamond_wm.config.env import GameConfig
from diamond_wm.data import EpisodeDataset
from diamond_wm.envs import GymVectorTorchEnv, make_env
from diamond_wm.training.collector import Collector
from tests.envs.counting_env import counting_env_fns, decode, episode_length


class FakeOutput(NamedTuple):
    logits_act: torch.Tensor
    val: torch.Tensor
    hx_cx: tuple[torch.Tensor, torch.Tensor]


class FakeActorCritic(nn.Module):
    """Tiny actor-critic with the real interface; records the LSTM states it is given; can force an action."""

    def __init__(self, num_actions: int, lstm_dim: int = 4, favourite: int | None = None) -> None:
        super().__init__()
        self.lstm_dim = lstm_dim
        self.lstm = nn.LSTMCell(3, lstm_dim)
        self.head = nn.Linear(lstm_dim, num_actions)
        self.favourite = favourite
        self.seen_hx: list[torch.Tensor | None] = []

    def forward(self, obs: torch.Tensor, hx_cx=None) -> FakeOutput:
        self.seen_hx.append(None if hx_cx is None else hx_cx[0].clone())
        hx, cx = self.lstm(obs.mean(dim=(2, 3)), hx_cx)
        logits = self.head(hx)
        if self.favourite is not None:
            logits = torch.full_like(logits, -1e4)
            logits[:, self.favourite] = 0
        return FakeOutput(logits, hx.sum(1), (hx + 1, cx))  # + 1: a nonzero state after every step


def _check_episode_unmixed(ep, env_index: int) -> None:
    """Every frame of a stored episode comes from one episode of one env, steps 0, 1, 2, ... in order."""
    codes = [decode(f.numpy()) for f in ep.obs]
    e = codes[0][0]
    assert codes == [(e, t, env_index) for t in range(len(ep))]
    assert ep.rew.tolist() == [float(t + 1) for t in range(len(ep))]
    if ep.is_finished:
        assert len(ep) == episode_length(env_index, e)
        assert decode(ep.final_observation.numpy()) == (e, len(ep), env_index)
        assert bool(ep.trunc[-1]) == (e % 3 == 2) and bool(ep.end[-1]) == (e % 3 != 2)


def test_training_collection_extends_unfinished_episodes():
    env = GymVectorTorchEnv(counting_env_fns(2))
    ds = EpisodeDataset()
    collector = Collector(env, ds, policy=None, show_progress=False, seed=0)
    reports = [collector.collect(num_steps=4) for _ in range(10)]  # 2 steps per env per call
    assert sum(r.num_steps for r in reports) == ds.num_steps == 40
    lengths = [n for r in reports for n in r.lengths]
    returns = [x for r in reports for x in r.returns]
    assert returns == [n * (n + 1) / 2 for n in lengths] and len(lengths) >= 8
    finished = [ds.load_episode(i) for i in range(ds.num_episodes) if ds.load_episode(i).is_finished]
    assert len(finished) == len(lengths) and ds.num_episodes == len(lengths) + 2  # + one open per env
    env_of = {}
    for i in range(ds.num_episodes):
        ep = ds.load_episode(i)
        env_of[i] = decode(ep.obs[0].numpy())[2]
        _check_episode_unmixed(ep, env_of[i])
        assert decode(ep.obs[0].numpy())[1] == 0  # every stored episode starts at its first step
    assert ds.counts_end[1] == sum(int(ds.load_episode(i).end[-1]) for i in range(ds.num_episodes))
    # an episode longer than one call (2 steps per env) was stored whole: extension across calls works
    assert max(ds.lengths) >= 5
    env.close()


def test_test_collection_starts_afresh_and_drops_unfinished():
    env = GymVectorTorchEnv(counting_env_fns(3))
    ds = EpisodeDataset()
    collector = Collector(env, ds, reset_every_collect=True, show_progress=False, seed=0)
    r1 = collector.collect(num_episodes=4)
    assert r1.num_episodes >= 4 and ds.num_episodes == r1.num_episodes
    r2 = collector.collect(num_episodes=2)
    assert ds.num_episodes == r1.num_episodes + r2.num_episodes
    for i in range(ds.num_episodes):
        ep = ds.load_episode(i)
        assert ep.is_finished and decode(ep.obs[0].numpy())[1] == 0
        _check_episode_unmixed(ep, decode(ep.obs[0].numpy())[2])
    m = r2.metrics("test/")
    assert m["test/num_episodes"] == r2.num_episodes and "test/return_mean" in m and "test/counts/end_1" in m
    with pytest.raises(ValueError, match="exactly one"):
        collector.collect(num_steps=3, num_episodes=3)
    with pytest.raises(ValueError, match="num_steps must be a positive integer, got 0"):
        collector.collect(num_steps=0)
    env.close()


def test_policy_actions_lstm_reset_and_epsilon():
    env = GymVectorTorchEnv(counting_env_fns(2))
    policy = FakeActorCritic(env.num_actions, favourite=1)
    ds = EpisodeDataset()
    collector = Collector(env, ds, policy=policy, epsilon=0.0, show_progress=False, seed=0)
    collector.collect(num_steps=30)
    assert all((ds.load_episode(i).act == 1).all() for i in range(ds.num_episodes))
    # the LSTM state given at the first step of every episode is zero (None at the very start)
    assert policy.seen_hx[0] is None
    step_in_episode = [[decode(f)[1] for f in _frames(ds, k)] for k in range(2)]
    for k in range(2):
        for s, t in enumerate(step_in_episode[k][: len(policy.seen_hx)]):
            if s > 0:
                assert (policy.seen_hx[s][k] == 0).all() == (t == 0), (k, s, t)
    random_ds = EpisodeDataset()
    Collector(env, random_ds, policy=policy, epsilon=1.0, show_progress=False).collect(num_steps=200)
    acts = torch.cat([random_ds.load_episode(i).act for i in range(random_ds.num_episodes)])
    assert 0.35 < (acts == 0).float().mean() < 0.65
    with pytest.raises(ValueError, match="epsilon"):
        Collector(env, ds, epsilon=1.5)
    env.close()


def _frames(ds, env_index):
    """All frames of env `env_index` in collection order (episodes of that env, in id order)."""
    frames = []
    for i in range(ds.num_episodes):
        ep = ds.load_episode(i)
        if decode(ep.obs[0].numpy())[2] == env_index:
            frames += [f.numpy() for f in ep.obs]
    return frames


def test_resume_closes_the_episode_in_progress(tmp_path):
    env = GymVectorTorchEnv(counting_env_fns(1))
    ds = EpisodeDataset(tmp_path / "train")
    collector = Collector(env, ds, show_progress=False, seed=0)
    collector.collect(num_steps=5)  # episode 0 has 3 steps, episode 1 has 4: episode 1 is open at step 2
    state = collector.state_dict()
    assert state["episode_ids"] == [1] and not ds.load_episode(1).is_finished
    ds.close()

    ds2 = EpisodeDataset(tmp_path / "train")
    resumed = Collector(env, ds2, show_progress=False)
    resumed.load_state_dict(state)
    ep = ds2.load_episode(1)
    assert len(ep) == 2 and ep.trunc[-1] == 1 and ep.end[-1] == 0  # closed properly
    resumed.collect(num_steps=3)
    assert ds2.num_episodes == 3 and decode(ds2.load_episode(2).obs[0].numpy())[1] == 0
    env.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_collects_catch_with_progress_bar_on_a_terminal_one_line_elsewhere(terminal, monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    env = make_env(GameConfig(id="diamond_wm/Catch-v0", size=16, frame_skip=1), "gym", 2)
    ds = EpisodeDataset()
    report = Collector(env, ds, show_progress=True, seed=0).collect(num_episodes=2)
    assert (
        report.num_episodes == 2 and report.lengths == [23, 23] and all(-3 <= r <= 3 for r in report.returns)
    )
    lines = [r.getMessage() for r in caplog.records if r.name == "diamond_wm.runtime.progress"]
    if terminal:
        assert "Collect dataset" in stderr.getvalue() and lines == []
    else:  # a log file or a pipe: no bar (no carriage returns), one line
        assert stderr.getvalue() == ""
        assert len(lines) == 1 and lines[0].startswith("Collect dataset: 46 steps, 2 episodes ended in ")
    assert (
        ds.load_episode(0).obs.shape == (23, 3, 16, 16) and ds.load_episode(0).final_observation is not None
    )
    env.close()


def test_seeded_test_collection_repeats_itself():
    env = make_env(GameConfig(id="diamond_wm/Catch-v0", size=16, frame_skip=1), "gym", 2)
    ds = EpisodeDataset()
    policy = FakeActorCritic(env.num_actions, favourite=2)
    collector = Collector(env, ds, policy, reset_every_collect=True, show_progress=False)
    collector.collect(num_episodes=2, seed=7)
    collector.collect(num_episodes=2, seed=7)
    collector.collect(num_episodes=2, seed=8)
    obs = [ds.load_episode(i).obs for i in range(ds.num_episodes)]
    assert torch.equal(obs[0], obs[2]) and torch.equal(obs[1], obs[3]) and not torch.equal(obs[0], obs[4])
    env.close()
