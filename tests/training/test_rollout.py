"""Actor-critic rollouts in the world model: shapes, gradients, bootstrap values at episode ends."""

from __future__ import annotations

import torch

from diamond_wm.config.agent import ActorCriticLossConfig
from diamond_wm.models.actor_critic_loss import actor_critic_loss
from diamond_wm.training.rollout import ActorCriticRollout
from tests.envs.test_world_model_env import make_env


def _rollout(horizon: int, num_envs: int = 4, env_horizon: int | None = None):
    env = make_env(num_envs, horizon=env_horizon or horizon)
    torch.manual_seed(0)
    from diamond_wm.models.agent import Agent
    from tests.models.conftest import tiny_agent_config

    ac = Agent(tiny_agent_config(), 3).actor_critic
    with torch.no_grad():  # non-zero heads so that values differ between observations
        ac.critic_linear.weight.normal_()
    return env, ac, ActorCriticRollout(env, ac, num_steps=horizon)


def test_rollout_shapes_and_gradients():
    env, ac, rollout = _rollout(horizon=6)
    out = rollout.run()
    assert out.logits_act.shape == (4, 6, 3)
    for name in ("val", "act", "rew", "end", "trunc", "val_bootstrap"):
        assert getattr(out, name).shape == (4, 6), name
    never_ended = ~out.end.bool().any(dim=1)
    assert (
        out.trunc[never_ended, -1].bool().all()
    )  # an episode that lasts the whole rollout stops at the horizon
    assert out.logits_act.requires_grad and out.val.requires_grad and not out.val_bootstrap.requires_grad
    loss, metrics = actor_critic_loss(
        out.logits_act,
        out.val,
        out.act,
        out.rew,
        out.end,
        out.trunc,
        out.val_bootstrap,
        ActorCriticLossConfig(),
    )
    loss.backward()
    assert ac.critic_linear.weight.grad is not None and "policy_entropy" in metrics


def test_bootstrap_is_next_value_or_value_of_final_observation():
    # Recompute, step by step, what the bootstrap values must be, with the env's and the policy's randomness replayed.
    env, ac, rollout = _rollout(horizon=5)
    torch.manual_seed(123)
    env.reset(seed=5)  # the environments' generators; the rollout's own reset continues them
    out = rollout.run()
    for t in range(4):
        cont = ~(out.end[:, t].bool() | out.trunc[:, t].bool())
        assert torch.allclose(out.val_bootstrap[cont, t], out.val[cont, t + 1].detach())
    assert not torch.allclose(out.val_bootstrap[:, -1], out.val[:, -1].detach())


def test_rollouts_continue_where_the_previous_one_stopped():
    # As the published trainer's env loop: one reset, then each rollout goes on from the last observations and
    # LSTM state; episodes that end restart inside the environment.
    env, ac, rollout = _rollout(horizon=4, env_horizon=6)
    resets = []
    reset = env.reset
    env.reset = lambda *a, **k: resets.append(1) or reset(*a, **k)
    torch.manual_seed(1)
    reset(seed=2)
    first = rollout.run()
    t_after_first = env.t.clone()
    second = rollout.run()
    assert len(resets) == 1
    ended_in_first = (first.end.bool() | first.trunc.bool()).any(dim=1)
    # The environments' step counts went on: those that did not end are at step 4 + something, not back at 0.
    assert (t_after_first[~ended_in_first] == 4).all()
    # Those at step 4 reach the env's horizon (6) at the second step of the next rollout, unless they end first.
    ended_or_truncated = second.end[:, :2].bool().any(dim=1) | second.trunc[:, 1].bool()
    assert ended_or_truncated[~ended_in_first].all()
    assert not second.trunc[~ended_in_first, 0].any()  # not before the horizon


def test_a_resumed_rollout_continues_the_same_episodes():
    env, ac, rollout = _rollout(horizon=3, env_horizon=5)
    torch.manual_seed(1)
    env.reset(seed=2)
    rollout.run()
    state = rollout.state_dict()  # the environments' generators included
    torch_state = torch.get_rng_state()
    expected = rollout.run()

    env2, _, rollout2 = _rollout(horizon=3, env_horizon=5)
    rollout2.actor_critic.load_state_dict(ac.state_dict())
    rollout2.load_state_dict(state)
    torch.set_rng_state(torch_state)
    got = rollout2.run()
    for name in ("act", "rew", "end", "trunc"):
        torch.testing.assert_close(getattr(got, name), getattr(expected, name))
    torch.testing.assert_close(got.val, expected.val)


def test_a_compiled_actor_critic_rolls_out_as_the_eager_one():
    # Compiled, the policy burns in and bootstraps every environment's row (one batch size for its graphs), then
    # keeps those of the environments that restarted: the same rollouts as the eager policy's.
    outs, sizes = [], set()
    for compiled in (False, True):
        env, ac, rollout = _rollout(horizon=6, env_horizon=2)
        if compiled:
            ac.compile(dynamic=False, backend="eager")  # Dynamo's graphs and guards, no code generation
        burn_in = rollout.driver.burn_in
        rollout.driver.burn_in = lambda obs, burn_in=burn_in, c=compiled: (
            sizes.add((c, len(obs))) or burn_in(obs)
        )
        torch.manual_seed(1)
        env.reset(seed=2)
        outs.append((rollout.run(), rollout.run()))
    assert {n for c, n in sizes if c} == {4} and len(
        {n for c, n in sizes if not c}
    ) > 1  # restarts of some rows
    for eager, compiled in zip(*outs, strict=True):
        for name in ("act", "rew", "end", "trunc"):
            torch.testing.assert_close(getattr(compiled, name), getattr(eager, name))
        for name in ("logits_act", "val", "val_bootstrap"):
            torch.testing.assert_close(getattr(compiled, name), getattr(eager, name), atol=1e-5, rtol=1e-5)
