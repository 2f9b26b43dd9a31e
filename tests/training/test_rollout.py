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
    return env, ac, ActorCriticRollout(env, ac, horizon=horizon, reset_every_rollout=True)


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
    env.generator.manual_seed(5)
    out = rollout.run()
    for t in range(4):
        cont = ~(out.end[:, t].bool() | out.trunc[:, t].bool())
        assert torch.allclose(out.val_bootstrap[cont, t], out.val[cont, t + 1].detach())
    assert not torch.allclose(out.val_bootstrap[:, -1], out.val[:, -1].detach())


def test_last_step_does_not_restart_environments_the_next_rollout_resets():
    env, ac, rollout = _rollout(horizon=5)
    draws = []
    source = env.initial_conditions
    env.initial_conditions = lambda count, gen: draws.append(count) or source(count, gen)
    step = env.step
    outputs = []
    for autoreset_last in (False, True):
        draws.clear()
        if autoreset_last:  # what the rollout did before: restart at the horizon, then reset again
            env.step = lambda act, autoreset=True: step(act)
        torch.manual_seed(7)
        env.generator.manual_seed(3)
        outputs.append(rollout.run())
        done = outputs[-1].end.bool() | outputs[-1].trunc.bool()  # (N, T)
        assert done[:, -1].any()  # something to restart (or not) on the last step
        restarted = done if autoreset_last else done[:, :-1]  # ends before the last step restart either way
        assert sum(draws[1:]) == int(restarted.sum())
    env.step = step
    for name in ("logits_act", "val", "act", "rew", "end", "trunc", "val_bootstrap"):
        torch.testing.assert_close(getattr(outputs[0], name), getattr(outputs[1], name))
