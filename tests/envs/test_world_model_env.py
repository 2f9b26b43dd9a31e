"""`WorldModelEnv` with small random networks: batched steps, restarts, final observations, Gymnasium view."""

from __future__ import annotations

import pytest
import torch
from gymnasium.utils.env_checker import check_env

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.envs.world_model_gym import WorldModelGymEnv
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.world_model import WorldModel
from tests.models.conftest import tiny_agent_config

NUM_ACTIONS = 3


def random_contexts(pool_size: int = 16, n: int = 2, seed: int = 0):
    """A pool of fixed random 16x16 contexts, drawn from with the generator passed in."""
    g = torch.Generator().manual_seed(seed)
    frames = torch.rand(pool_size, n, 3, 16, 16, generator=g) * 2 - 1
    actions = torch.randint(0, NUM_ACTIONS, (pool_size, n), generator=g)

    def source(count: int, generator: torch.Generator):
        idx = torch.randint(0, pool_size, (count,), generator=generator)
        return frames[idx], actions[idx]

    return source


def make_env(num_envs: int, horizon: int, **kwargs) -> WorldModelEnv:
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), NUM_ACTIONS).eval()
    # Push the termination head towards "end" sometimes, so that restarts before the horizon happen.
    with torch.no_grad():
        agent.rew_end_model.head[-1].weight.normal_(0, 2.0)
    world_model = WorldModel(DiffusionSampler(agent.denoiser, DiffusionSamplerConfig()), agent.rew_end_model)
    return WorldModelEnv(world_model, random_contexts(), num_envs, horizon, **kwargs)


def test_hundred_steps_for_eight_envs_with_restarts():
    env = make_env(8, horizon=5)
    obs, info = env.reset(seed=0)
    assert obs.shape == (8, 3, 16, 16)
    assert info["context_obs"].shape == (8, 2, 3, 16, 16)
    assert torch.equal(obs, info["context_obs"][:, -1])
    ends = truncs = 0
    steps_since_reset = torch.zeros(8, dtype=torch.long)
    for _ in range(100):
        act = torch.randint(0, NUM_ACTIONS, (8,))
        obs, rew, end, trunc, info = env.step(act)
        assert obs.shape == (8, 3, 16, 16) and obs.min() >= -1 and obs.max() <= 1
        assert set(rew.unique().tolist()) <= {-1.0, 0.0, 1.0}
        assert not (end.bool() & trunc.bool()).any()
        steps_since_reset += 1
        done = end.bool() | trunc.bool()
        # Truncation happens exactly at the horizon, never before.
        assert torch.equal(trunc.bool(), (steps_since_reset >= 5) & ~end.bool())
        if done.any():
            # Restarted envs show the last frame of a fresh real context; final_observation is the imagined frame.
            assert torch.equal(obs[done], info["context_obs"][done][:, -1])
            assert not torch.equal(info["final_observation"][done], obs[done])
        steps_since_reset[done] = 0
        ends += int(end.sum())
        truncs += int(trunc.sum())
    assert ends > 0 and truncs > 0


def test_same_seed_same_imagination():
    env = make_env(4, horizon=15)
    acts = torch.randint(0, NUM_ACTIONS, (10, 4), generator=torch.Generator().manual_seed(1))

    def roll():
        frames = [env.reset(seed=7)[0]]
        for a in acts:
            frames.append(env.step(a)[0])
        return torch.stack(frames)

    assert torch.equal(roll(), roll())


def test_denoising_trajectory_and_horizon_change():
    env = make_env(2, horizon=15, return_denoising_trajectory=True)
    env.reset(seed=0)
    _, _, _, _, info = env.step(torch.zeros(2, dtype=torch.long))
    assert info["denoising_trajectory"].shape == (2, 4, 3, 16, 16)  # x_init + 3 Euler steps
    env.set_horizon(1)
    _, _, end, trunc, _ = env.step(torch.zeros(2, dtype=torch.long))
    assert (end.bool() | trunc.bool()).all()


def test_bad_actions_and_horizon_are_rejected():
    env = make_env(2, horizon=15)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=rf"\[0, {NUM_ACTIONS}\)"):
        env.step(torch.tensor([0, NUM_ACTIONS]))
    with pytest.raises(ValueError, match="horizon must be an integer >= 1, got 0"):
        env.set_horizon(0)


def test_single_env_gymnasium_view_passes_env_checker():
    gym_env = WorldModelGymEnv(make_env(1, horizon=5))
    check_env(gym_env, skip_render_check=True)
    obs, _ = gym_env.reset(seed=3)
    assert obs.shape == (16, 16, 3) and obs.dtype.name == "uint8"


def test_state_round_trip_continues_the_same_episodes():
    env = make_env(3, horizon=6)
    env.reset(seed=0)
    for _ in range(2):
        env.step(torch.ones(3, dtype=torch.long))
    state = env.state_dict()  # copies, the environments' generators included
    expected = env.step(torch.zeros(3, dtype=torch.long))

    other = make_env(3, horizon=6)
    other.load_state_dict(state)
    got = other.step(torch.zeros(3, dtype=torch.long))
    for a, b in zip(expected[:4], got[:4], strict=True):
        torch.testing.assert_close(a, b)
    torch.testing.assert_close(other.t, env.t)


def test_a_state_loads_without_drawing_contexts():
    # A resumed rank of a multi-process run loads its imagination before it has any episode to draw from.
    env = make_env(3, horizon=6)
    env.reset(seed=0)
    env.step(torch.ones(3, dtype=torch.long))
    state = env.state_dict()
    expected = env.step(torch.zeros(3, dtype=torch.long))

    def no_episode(count: int, generator: torch.Generator):
        raise ValueError("cannot sample from an empty dataset")

    other = make_env(3, horizon=6)
    source, other.initial_conditions = other.initial_conditions, no_episode
    other.load_state_dict(state)
    other.initial_conditions = source  # the episodes have come: rows that end restart from them
    got = other.step(torch.zeros(3, dtype=torch.long))
    for a, b in zip(expected[:4], got[:4], strict=True):
        torch.testing.assert_close(a, b)


def test_multi_hot_actions_drive_the_world_model():
    from diamond_wm.config.actions import ActionGroup, ActionSpec

    spec = ActionSpec.multi_hot(
        [ActionGroup("keys", ("w", "a")), ActionGroup("mouse", ("l", "r"), one_hot=True)]
    )
    cfg = tiny_agent_config()
    cfg.actor_critic = None
    torch.manual_seed(0)
    agent = Agent(cfg, spec).eval()
    with torch.no_grad():  # the termination head always says "continue": no restart hides the action buffer
        head = agent.rew_end_model.head
        head[0].weight.zero_(), head[0].bias.fill_(1.0)
        head[-1].weight[3].fill_(10.0), head[-1].weight[4].fill_(-10.0)
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(4, 2, 3, 16, 16, generator=g) * 2 - 1
    actions = torch.tensor([[0.0, 1, 1, 0], [1, 1, 0, 1]]).expand(4, 2, 4)

    def source(count, generator):
        return frames[:count], actions[:count]

    world_model = WorldModel(
        DiffusionSampler(agent.denoiser, DiffusionSamplerConfig()), agent.rew_end_model, action_spec=spec
    )
    env = WorldModelEnv(world_model, source, 2, horizon=3)
    assert env.action_names == ["keys:w", "keys:a", "mouse:l", "mouse:r"]
    env.reset(seed=0)
    act = torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0]])
    obs, _, _, _, info = env.step(act)
    assert obs.shape == (2, 3, 16, 16) and env.act_buffer.shape == (2, 2, 4)
    assert env.act_buffer.dtype == torch.float32
    assert not info["reset_mask"].any()
    assert torch.equal(env.act_buffer[:, 0], act)
    assert not env.act_buffer[:, -1].any()  # the next step's slot
    with pytest.raises(ValueError, match="^actions: 2 hot entries in the one-hot group 'mouse'"):
        env.step(torch.tensor([[1.0, 0, 1, 1], [0, 0, 1, 0]]))
    with pytest.raises(ValueError, match=r"^actions of dtype torch.int64: expected float vectors of 4-dim"):
        env.step(torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(
        ValueError, match="^WorldModelGymEnv takes discrete actions, not 4-dim multi-hot actions"
    ):
        WorldModelGymEnv(env)
