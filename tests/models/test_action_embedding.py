"""Discrete and multi-hot actions through one embedding weight, and the world model on multi-hot actions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from diamond_wm.bench.workloads import randomize_zero_layers
from diamond_wm.config.actions import ActionGroup, ActionSpec
from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.action_embedding import ActionEmbedding
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import edm_denoising_loss
from tests.models.conftest import tiny_agent_config

SPEC = ActionSpec.multi_hot(
    [ActionGroup("keys", ("w", "a", "s", "d")), ActionGroup("mouse", ("-1", "0", "1"), one_hot=True)]
)


def test_a_one_hot_vector_embeds_like_its_index_and_zero_to_zero():
    torch.manual_seed(0)
    emb = ActionEmbedding(5, 6)
    idx = torch.tensor([[0, 3], [4, 1]])  # (B, n)
    assert torch.equal(emb(F.one_hot(idx, 5).float()), emb(idx))  # (B, n, C) both
    assert torch.equal(emb(torch.zeros(2, 5)), torch.zeros(2, 6))
    multi = torch.tensor([[1.0, 0, 1, 0, 0]])
    torch.testing.assert_close(emb(multi), emb.weight[[0]] + emb.weight[[2]])


def test_same_key_and_shape_as_the_published_embedding():
    torch.manual_seed(0)
    ours = ActionEmbedding(4, 8)
    torch.manual_seed(0)
    published = torch.nn.Embedding(4, 8)
    assert torch.equal(ours.weight, published.weight)  # same initialisation
    assert list(ours.state_dict()) == ["weight"]


def test_bad_actions_fail_in_one_line():
    emb = ActionEmbedding(4, 8)
    with pytest.raises(ValueError, match=r"^action indices \[4, 9\] out of range: expected \[0, 4\)$"):
        emb(torch.tensor([[1, 4, 9]]))
    with pytest.raises(ValueError, match=r"^action indices \[-1\] out of range"):
        emb(torch.tensor([-1]))
    with pytest.raises(
        ValueError, match=r"multi-hot actions of shape \(2, 3\): expected \(\.\.\., 4\) vectors"
    ):
        emb(torch.zeros(2, 3))


def test_the_actor_critic_refuses_multi_hot_actions():
    with pytest.raises(
        ValueError, match="^the actor-critic chooses among discrete actions, not 7-dim multi-hot"
    ):
        Agent(tiny_agent_config(), SPEC)


def _multi_hot_batch(b: int, t: int, size: int) -> Batch:
    g = torch.Generator().manual_seed(0)
    act = torch.zeros(b, t, SPEC.num_action_dims)
    act[..., :4] = (torch.rand(b, t, 4, generator=g) < 0.5).float()
    act[..., 4 + torch.randint(3, (1,), generator=g)] = 1.0
    act[0, 0] = 0.0  # a padded step
    end = torch.zeros(b, t, dtype=torch.uint8)
    mask = torch.ones(b, t, dtype=torch.bool)
    mask[0, 0] = False
    obs = torch.rand(b, t, 3, size, size, generator=g) * 2 - 1
    return Batch(obs, act, torch.zeros(b, t), end, end.clone(), mask)


def test_world_model_forward_and_losses_on_multi_hot_actions():
    cfg = tiny_agent_config()
    cfg.actor_critic = None
    torch.manual_seed(0)
    agent = Agent(cfg, SPEC)
    randomize_zero_layers(agent)  # a zero output layer would pass no gradient back to the embeddings
    assert agent.action_spec == SPEC and agent.num_actions == 7
    assert agent.state_dict()["denoiser.inner_model.act_emb.0.weight"].shape == (7, 8)
    assert agent.state_dict()["rew_end_model.act_emb.weight"].shape == (7, cfg.rew_end_model.cond_channels)
    n = agent.denoiser.num_steps_conditioning
    batch = _multi_hot_batch(2, n + 2, cfg.rew_end_model.img_size)
    loss, _ = edm_denoising_loss(agent.denoiser, batch, SigmaDistributionConfig(), num_autoregressive_steps=1)
    loss.backward()
    assert torch.isfinite(loss) and agent.denoiser.inner_model.act_emb[0].weight.grad.abs().sum() > 0
    loss, _ = agent.rew_end_model.compute_loss(batch)
    loss.backward()
    assert torch.isfinite(loss) and agent.rew_end_model.act_emb.weight.grad.abs().sum() > 0
    # The actions matter: other vectors, other predictions.
    other = batch.act.clone()
    other[..., :4] = 1 - other[..., :4]
    obs = batch.obs[:, :-1]
    logits, _, _ = agent.rew_end_model(obs, batch.act[:, :-1], batch.obs[:, 1:])
    logits_other, _, _ = agent.rew_end_model(obs, other[:, :-1], batch.obs[:, 1:])
    assert not torch.allclose(logits, logits_other)
