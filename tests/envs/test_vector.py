"""Vector env under Gymnasium 1.x autoreset: final observations right, nothing leaks across episodes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data import to_uint8_frames
from diamond_wm.envs import GymVectorTorchEnv, TorchEnv
from tests.envs.counting_env import counting_env_fns, decode, episode_length


def _decode_all(frames: torch.Tensor) -> list[tuple[int, int, int]]:
    u = to_uint8_frames(frames.cpu()).numpy()
    return [decode(f) for f in u]


def test_same_step_autoreset_no_leakage():
    n = 3
    env = GymVectorTorchEnv(counting_env_fns(n))
    assert isinstance(env, TorchEnv) and env.action_names == ["A", "B"] and env.num_actions == 2
    assert env.action_spec == ActionSpec.discrete(2, ["A", "B"])
    obs, _ = env.reset(seed=0)
    assert _decode_all(obs) == [(0, 0, k) for k in range(n)]
    episode, t = [0] * n, [0] * n
    num_ends = num_truncs = 0
    for _ in range(40):
        obs, rew, end, trunc, info = env.step(torch.zeros(n, dtype=torch.long))
        now, final = _decode_all(obs), _decode_all(info["final_observation"])
        for k in range(n):
            t[k] += 1
            assert rew[k].item() == t[k]  # the reward of this step of this episode
            length = episode_length(k, episode[k])
            ended = t[k] == length
            assert bool(end[k] or trunc[k]) == ended == bool(info["reset_mask"][k])
            assert not (end[k] and trunc[k])
            if ended:
                assert bool(trunc[k]) == (episode[k] % 3 == 2)
                num_ends += int(end[k])
                num_truncs += int(trunc[k])
                assert final[k] == (episode[k], length, k)  # last frame of the episode that ended
                episode[k], t[k] = episode[k] + 1, 0
                assert now[k] == (episode[k], 0, k)  # already the first frame of the next one
            else:
                assert now[k] == final[k] == (episode[k], t[k], k)
    assert num_ends > 5 and num_truncs > 2
    env.close()


def test_rejects_bad_actions():
    env = GymVectorTorchEnv(counting_env_fns(2))
    env.reset()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        env.step(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 2\), got \[5\]"):
        env.step(torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="integers"):
        env.step(torch.tensor([0.0, 1.0]))
    env.close()


def test_async_matches_sync():
    from diamond_wm.config.env import GameConfig
    from diamond_wm.envs import make_env

    cfg = GameConfig(id="diamond_wm/Catch-v0", size=16, frame_skip=1)
    envs = [make_env(cfg, "gym", 2, asynchronous=a) for a in (False, True)]
    outs = []
    for env in envs:
        obs, _ = env.reset(seed=3)
        frames = [obs]
        for i in range(60):
            o, r, e, tr, info = env.step(torch.tensor([i % 3, (i + 1) % 3]))
            frames += [o, info["final_observation"], r[:, None, None, None].expand(-1, 3, 16, 16)]
        outs.append(torch.stack(frames))
        env.close()
    assert torch.equal(outs[0], outs[1])
    assert np.isfinite(outs[0].numpy()).all()


def test_closing_after_a_sub_environment_process_died_terminates_the_others():
    """A signal sent to the whole process group (Ctrl-C, `kill -- -PGID`) stops the sub-environments' processes
    too: closing then must not fail on the dead one's pipe, and must not leave the others running."""
    env = GymVectorTorchEnv(counting_env_fns(3), asynchronous=True)
    env.reset()
    processes = env.env.processes
    processes[1].kill()
    processes[1].join(timeout=10)
    env.close()
    assert env.env.closed
    assert not any(p.is_alive() for p in processes)
