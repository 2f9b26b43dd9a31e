"""Play sessions of one world model advanced together: one batched world-model step per update, and each session
sees what it sees alone with the same seed (a whole agent trained on a recorded game: policy, rewards, ends)."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.interactive import batch
from diamond_wm.interactive.batch import batch_buckets, update_together
from diamond_wm.interactive.commands import Command
from diamond_wm.interactive.launch import build_play_session
from diamond_wm.loading.agent import load_run
from tests.play.static_runs import train_static_run, write_recorded_game

pytestmark = pytest.mark.usefixtures("restore_logging")
SEEDS = (3, 4, 5)
UPDATES = 9


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    game = write_recorded_game(tmp_path_factory.mktemp("game") / "mygame")
    return train_static_run(tmp_path_factory.mktemp("full") / "run", game)


def sessions(run, seeds=SEEDS):
    loaded = load_run(run)
    return [build_play_session(loaded, run, horizon=4, seed=s) for s in seeds]


def trace(session) -> tuple:
    last = session.last
    return (session.t, session.env_name, last.action, last.reward, last.end, last.trunc) if last else None


def test_sessions_updated_together_see_what_they_see_alone(run, monkeypatch):
    calls = []
    real = batch.step_together
    monkeypatch.setattr(
        batch, "step_together", lambda envs, acts, *a: calls.append(len(envs)) or real(envs, acts, *a)
    )
    together = sessions(run)
    together[1].command(Command.PAUSE)  # paused: no step, not in the batch
    frames = {s: [] for s in SEEDS}
    traces = {s: [] for s in SEEDS}
    for k in range(UPDATES):
        if k == 4:
            together[1].command(Command.PAUSE)  # resumes: joins the batch
        stepped = update_together(together)
        assert stepped == [True, k >= 4, True]
        for seed, session in zip(SEEDS, together, strict=True):
            frames[seed].append(session.frame.clone())
            traces[seed].append(trace(session))
    assert calls == [2, 2, 2, 2, 3, 3, 3, 3, 3]  # one world-model call per update
    assert sum(len(s.finished_episodes) for s in together) >= 3  # episodes ended and restarted in the batch

    alone = sessions(run)
    alone[1].command(Command.PAUSE)
    for seed, session in zip(SEEDS, alone, strict=True):
        alone_frames, alone_traces = [], []
        for k in range(UPDATES):
            if k == 4 and session is alone[1]:
                session.command(Command.PAUSE)
            session.update()
            alone_frames.append(session.frame.clone())
            alone_traces.append(trace(session))
        assert alone_traces == traces[seed], seed
        for a, b in zip(alone_frames, frames[seed], strict=True):
            assert (a - b).abs().max() <= 2 / 255 + 1e-6  # equal but where a value sits on an 8-bit boundary


def test_different_seeds_play_differently(run):
    a, b = sessions(run, (1, 2))
    for _ in range(3):
        update_together([a, b])
    assert not torch.equal(a.frame, b.frame)


def test_batch_buckets_are_powers_of_two_up_to_the_limit():
    assert batch_buckets(16) == (1, 2, 4, 8, 16)
    assert batch_buckets(6) == (1, 2, 4, 6)
    assert batch_buckets(1) == (1,)
    with pytest.raises(ValueError, match="max_rows must be >= 1, got 0"):
        batch_buckets(0)
