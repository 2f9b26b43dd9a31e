"""Initialisation as in the paper, so that fresh runs start alike."""

from __future__ import annotations

import math

import torch
from torch import nn

from diamond_wm.models.agent import Agent
from diamond_wm.models.blocks import Downsample, ResBlock, SelfAttention2d
from tests.models.conftest import tiny_agent_config


def _lstm_params(agent: Agent) -> list[tuple[str, dict[str, torch.Tensor]]]:
    rew_lstm = agent.rew_end_model.lstm
    ac_lstm = agent.actor_critic.lstm
    return [
        ("rew_end_model", {k.removesuffix("_l0"): v for k, v in rew_lstm.named_parameters()}),
        ("actor_critic", dict(ac_lstm.named_parameters())),
    ]


def test_lstm_init(tiny_agent: Agent) -> None:
    for name, p in _lstm_params(tiny_agent):
        h = p["weight_hh"].shape[1]
        forget = slice(h, 2 * h)  # gates (input, forget, cell, output)
        assert torch.all(p["bias_ih"][forget] == 1), name
        assert torch.all(p["bias_ih"][:h] == 0) and torch.all(p["bias_ih"][2 * h :] == 0), name
        assert torch.all(p["bias_hh"] == 0), name
        w_hh = p["weight_hh"].detach()  # (4H, H), orthonormal columns
        torch.testing.assert_close(w_hh.T @ w_hh, torch.eye(h), atol=1e-5, rtol=0)
        fan_out, fan_in = p["weight_ih"].shape
        bound = math.sqrt(6 / (fan_in + fan_out))  # xavier-uniform
        assert p["weight_ih"].abs().max() <= bound, name
        assert p["weight_ih"].abs().max() > 0.5 * bound, name


def test_zero_initialised_layers(tiny_agent: Agent) -> None:
    ac = tiny_agent.actor_critic
    for head in (ac.actor_linear, ac.critic_linear):
        assert torch.all(head.weight == 0) and torch.all(head.bias == 0)
    assert torch.all(tiny_agent.denoiser.inner_model.conv_out.weight == 0)
    modules = list(tiny_agent.modules())
    resblocks = [m for m in modules if isinstance(m, ResBlock)]
    attns = [m for m in modules if isinstance(m, SelfAttention2d)]
    assert resblocks and attns
    assert all(torch.all(m.conv2.weight == 0) for m in resblocks)
    assert all(torch.all(m.out_proj.weight == 0) and torch.all(m.out_proj.bias == 0) for m in attns)


def test_downsample_orthogonal(tiny_agent: Agent) -> None:
    downs = [m for m in tiny_agent.modules() if isinstance(m, Downsample)]
    assert downs
    for m in downs:
        w = m.conv.weight.detach().flatten(1)  # (C, C * 9), orthonormal rows
        torch.testing.assert_close(w @ w.T, torch.eye(w.shape[0]), atol=1e-5, rtol=0)


def test_fresh_agents_start_alike() -> None:
    torch.manual_seed(123)
    a = Agent(tiny_agent_config(), 3)
    torch.manual_seed(123)
    b = Agent(tiny_agent_config(), 3)
    for k, v in a.state_dict().items():
        assert torch.equal(v, b.state_dict()[k]), k


def test_fresh_policy_is_uniform(tiny_agent: Agent) -> None:
    out = tiny_agent.actor_critic(torch.zeros(2, 3, 16, 16))
    assert torch.all(out.logits_act == 0) and torch.all(out.val == 0)
    assert isinstance(tiny_agent.actor_critic.lstm, nn.LSTMCell)
