"""The built-in Catch game and pixel Gymnasium environments."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.utils.env_checker import check_env

import diamond_wm.envs  # noqa: F401  (registers diamond_wm/Catch-v0)
from diamond_wm.config.env import GameConfig
from diamond_wm.envs import make_env
from diamond_wm.envs.catch import BALL_RGB, PADDLE_RGB, CatchEnv
from diamond_wm.envs.gym_pixels import make_pixel_env


def _positions(frame: np.ndarray, cell: int = 8) -> tuple[tuple[int, int], int]:
    grid = frame[::cell, ::cell]
    ball = tuple(int(x) for x in np.argwhere((grid == BALL_RGB).all(-1))[0])
    paddle = np.argwhere((grid[-1] == PADDLE_RGB).all(-1))
    return ball, int(paddle[0][0]) if len(paddle) else ball[1]


def test_registered_and_passes_gymnasium_checks():
    env = gym.make("diamond_wm/Catch-v0")
    assert env.observation_space.shape == (64, 64, 3) and env.action_space.n == 3
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


def test_dynamics_rewards_and_episode_length():
    env = CatchEnv()
    obs, _ = env.reset(seed=0)
    o2, _ = CatchEnv().reset(seed=0)
    assert np.array_equal(obs, o2)  # seeded
    total, steps, terminated, rewards = 0.0, 0, False, []
    while not terminated:
        (ball_row, ball_col), paddle = _positions(obs)
        action = 0 if paddle == ball_col else 1 if paddle > ball_col else 2  # chase the ball
        obs, r, terminated, truncated, info = env.step(action)
        assert not truncated
        total += r
        steps += 1
        rewards.append(r)
    assert steps == 23 and total == 3.0 and rewards.count(1.0) == 3 and info["balls_left"] == 0
    _, _ = env.reset(seed=1)
    never_move = [env.step(0)[1] for _ in range(23)]
    assert set(never_move) <= {-1.0, 0.0, 1.0} and sum(abs(r) for r in never_move) == 3
    with pytest.raises(ValueError, match="grid_size"):
        CatchEnv(grid_size=2)


def test_demo_variant_one_ball_and_a_three_cell_paddle():
    env = gym.make("diamond_wm/CatchDemo-v0")
    returns = {"chase": [], "stay": []}
    for seed in range(20):
        for mode in returns:
            obs, _ = env.reset(seed=seed)
            total, steps, terminated = 0.0, 0, False
            while not terminated:
                grid = obs[::8, ::8]
                assert (grid[-1] == PADDLE_RGB).all(-1).sum() in (
                    2,
                    3,
                )  # 3 cells, one hidden by a caught ball
                ball_col = int(np.argwhere((grid == BALL_RGB).all(-1))[0][1])
                paddle = int(np.argwhere((grid[-1] == PADDLE_RGB).all(-1)).mean())
                action = 0 if mode == "stay" or paddle == ball_col else 1 if paddle > ball_col else 2
                obs, r, terminated, truncated, _ = env.step(action)
                total, steps = total + r, steps + 1
                if steps == 7:  # the landing: rewarded, not the end; the ball is on the bottom row
                    assert (
                        r in (-1.0, 1.0) and not terminated and (obs[::8, ::8][-1] == BALL_RGB).all(-1).any()
                    )
            assert steps == 8 and r == 0.0 and not truncated
            assert not (obs == BALL_RGB).all(-1).any()  # the final frame: the ball is gone
            returns[mode].append(total)
    assert set(returns["chase"]) == {1.0}  # chasing the ball always catches it
    assert set(returns["stay"]) == {-1.0, 1.0}  # staying put catches only balls falling near the paddle
    with pytest.raises(ValueError, match="paddle_width must be odd"):
        CatchEnv(paddle_width=2)
    env.close()


def test_batched_catch_resized():
    env = make_env(GameConfig(id="diamond_wm/Catch-v0", size=16, frame_skip=1), "gym", num_envs=4)
    assert env.action_names == ["NOOP", "LEFT", "RIGHT"]
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 3, 16, 16) and obs.min() >= -1 and obs.max() <= 1
    ends = 0
    for _ in range(23):
        obs, rew, end, trunc, info = env.step(torch.randint(3, (4,)))
        ends += int(end.sum())
    assert ends == 4 and int(trunc.sum()) == 0
    env.close()


def test_rendering_only_env_is_seen_through_rgb_frames():
    pytest.importorskip("pygame")
    env = make_pixel_env(GameConfig(id="CartPole-v1", size=32, frame_skip=2, max_episode_steps=3))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (32, 32, 3) and obs.dtype == np.uint8 and obs.std() > 0
    truncated = [env.step(0)[3] for _ in range(3)]
    assert truncated == [False, False, True]
    env.close()


@pytest.mark.slow
def test_learnable_by_a_small_agent_in_seconds():
    """A 2-layer CNN actor-critic (A2C, 16 envs x 8 steps per update) solves Catch at 16x16 in ~15 s of CPU."""
    from torch import nn

    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny convolutions: threads only add overhead
    n, horizon = 16, 8
    env = make_env(GameConfig(id="diamond_wm/Catch-v0", size=16, frame_skip=1), "gym", num_envs=n)
    net = nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 16, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(16 * 4 * 4, 64),
        nn.ReLU(),
        nn.Linear(64, 3 + 1),  # 3 action logits and a value
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    obs, _ = env.reset(seed=0)
    returns, running = [], torch.zeros(n)
    for _ in range(900):
        logps, vals, rews, dones, ents = [], [], [], [], []
        for _ in range(horizon):
            out = net(obs)
            dist = torch.distributions.Categorical(logits=out[:, :3])
            act = dist.sample()
            obs, rew, end, trunc, _ = env.step(act)
            done = (end | trunc).float()
            logps.append(dist.log_prob(act))
            vals.append(out[:, 3])
            ents.append(dist.entropy())
            rews.append(rew)
            dones.append(done)
            running += rew
            returns += running[done.bool()].tolist()
            running *= 1 - done
        with torch.no_grad():
            ret = net(obs)[:, 3]
        targets = []
        for rew, done in zip(reversed(rews), reversed(dones), strict=True):
            ret = rew + 0.9 * ret * (1 - done)
            targets.append(ret)
        adv = torch.stack(targets[::-1]) - torch.stack(vals)
        loss = (
            -(torch.stack(logps) * adv.detach()).mean()
            + 0.5 * adv.pow(2).mean()
            - 0.01 * torch.stack(ents).mean()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    env.close()
    torch.set_num_threads(threads)
    assert sum(returns[:64]) / 64 < -1.5  # random play at first
    assert sum(returns[-64:]) / 64 > 2.0  # the best possible is +3
