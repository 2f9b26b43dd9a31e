"""`compile_world_model` and `compile_for_training`: same parameter names (checkpoints load either way) and,
compiled, the same outputs (and gradients)."""

from __future__ import annotations

import copy

import pytest
import torch

from diamond_wm.bench.workloads import randomize_zero_layers, tiny_agent_config
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.runtime.compile import compile_for_training, compile_world_model, graph_breaks


def _agent() -> Agent:
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), 4)
    randomize_zero_layers(agent)
    return agent.eval()


def test_compiling_keeps_the_state_dict_keys():
    agent = _agent()
    keys = list(agent.state_dict())
    compile_world_model(agent)  # nothing is compiled before the first call
    assert list(agent.state_dict()) == keys
    Agent(tiny_agent_config(), 4).load_state_dict(agent.state_dict())  # strict


def denoise_inputs(device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
    """(noisy frames, sigmas, context frames, actions) for a tiny agent's `denoiser.denoise`, 3 rows, on `device`."""
    g = torch.Generator().manual_seed(1)
    b, n = 3, 4
    x = torch.randn(b, 3, 16, 16, generator=g)
    obs = torch.rand(b, n, 3, 16, 16, generator=g) * 2 - 1
    act = torch.randint(0, 4, (b, n), generator=g)
    sigma = torch.tensor([0.1, 1.0, 5.0])
    return tuple(t.to(device) for t in (x, sigma, obs, act))


@pytest.mark.slow
@pytest.mark.parametrize("freeze", [False, True])
def test_compiled_world_model_matches_eager(freeze):
    eager = _agent()
    compiled = copy.deepcopy(eager)
    compile_world_model(compiled, freeze=freeze)
    x, sigma, obs, act = denoise_inputs()
    with torch.inference_mode():
        ref = eager.denoiser.denoise(x, sigma, obs, act)
        out = compiled.denoiser.denoise(x, sigma, obs, act)
        ref_rew, ref_end, _ = eager.rew_end_model(obs[:, :-1], act[:, :-1], obs[:, 1:])
        rew, end, _ = compiled.rew_end_model(obs[:, :-1], act[:, :-1], obs[:, 1:])
    # denoise() quantizes to 8 bits: a 1e-6 difference may flip one level (2/255) at a boundary
    assert (out - ref).abs().max().item() <= 2 / 255 + 1e-6
    assert (out != ref).float().mean().item() < 0.01
    torch.testing.assert_close(rew, ref_rew, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(end, ref_end, atol=1e-5, rtol=1e-4)


@pytest.mark.slow
def test_restarts_of_any_number_of_environments_compile_nothing_new():
    from torch._dynamo.utils import counters

    from diamond_wm.config.agent import DiffusionSamplerConfig
    from diamond_wm.envs.world_model_env import WorldModelEnv

    agent = _agent()
    with (
        torch.no_grad()
    ):  # the termination head says "end" often: restarts of varying numbers of environments
        agent.rew_end_model.head[-1].weight.normal_(0, 2.0)
    compile_world_model(agent)
    g = torch.Generator().manual_seed(0)
    frames = torch.rand(16, 4, 3, 16, 16, generator=g) * 2 - 1

    def contexts(count, generator):
        idx = torch.randint(0, 16, (count,), generator=generator)
        return frames[idx], torch.randint(0, 4, (count, 4), generator=generator)

    from diamond_wm.models.world_model import WorldModel

    world_model = WorldModel(DiffusionSampler(agent.denoiser, DiffusionSamplerConfig()), agent.rew_end_model)
    env = WorldModelEnv(world_model, contexts, 6, horizon=100)
    env.reset(seed=0)
    restarts = set()
    for step in range(12):
        _, _, end, trunc, _ = env.step(torch.randint(0, 4, (6,), generator=g))
        restarts.add(int((end | trunc).sum()))
        if step == 1:
            graphs = counters["stats"]["unique_graphs"]  # the U-Net and the one-step reward model, compiled
    assert len(restarts - {0}) >= 2  # restarts of at least two different sizes happened
    assert counters["stats"]["unique_graphs"] == graphs


@pytest.mark.slow
def test_players_joining_and_leaving_compile_nothing_after_the_bucket_warm_up():
    """Served players: a compiled world model warmed up at batch sizes 1, 2, 4 compiles nothing new while 1 to 4
    environments step together, in any order."""
    from torch._dynamo.utils import counters

    from diamond_wm.config.agent import DiffusionSamplerConfig
    from diamond_wm.envs.world_model_env import WorldModelEnv, step_together, warm_up_buckets
    from diamond_wm.models.world_model import WorldModel

    agent = _agent()
    compile_world_model(agent)
    frames = torch.rand(1, 4, 3, 16, 16, generator=torch.Generator().manual_seed(0)) * 2 - 1
    world_model = WorldModel(DiffusionSampler(agent.denoiser, DiffusionSamplerConfig()), agent.rew_end_model)
    envs = []
    for seed in range(4):
        env = WorldModelEnv(
            world_model, lambda count, g: (frames, torch.zeros(1, 4, dtype=torch.long)), 1, 100
        )
        env.reset(seed=seed)
        envs.append(env)
    buckets = (1, 2, 4)
    warm_up_buckets(envs[0], buckets)
    graphs = counters["stats"]["unique_graphs"]
    for players in (1, 3, 2, 4, 1, 3):
        step_together(envs[:players], [torch.tensor([1])] * players, buckets)
    assert counters["stats"]["unique_graphs"] == graphs


def test_a_csgo_world_model_compiles_its_denoiser_and_upsampler():
    from diamond_wm.bench.csgo import csgo_agent_config
    from diamond_wm.envs.csgo import csgo_action_spec

    agent = Agent(csgo_agent_config(tiny=True), csgo_action_spec())  # no reward/termination model
    keys = list(agent.state_dict())
    compile_world_model(agent)
    assert agent.denoiser.inner_model._compiled_call_impl is not None
    assert agent.upsampler.inner_model._compiled_call_impl is not None
    assert list(agent.state_dict()) == keys


@pytest.mark.slow
def test_networks_compiled_for_training_match_eager_with_their_gradients():
    """`training.compile`: the reward/termination model over a segment (its `nn.LSTM` traced too) and the
    actor-critic, forward and backward, as the eager networks."""
    allow_rnn = torch._dynamo.config.allow_rnn
    try:
        _check_networks_compiled_for_training()
    finally:
        torch._dynamo.config.allow_rnn = allow_rnn  # compile_for_training sets it for the whole process


def _check_networks_compiled_for_training() -> None:
    eager = _agent().train()
    compiled = copy.deepcopy(eager)
    compile_for_training(compiled)
    torch._dynamo.reset()
    g = torch.Generator().manual_seed(2)
    obs = torch.rand(3, 5, 3, 16, 16, generator=g) * 2 - 1
    act = torch.randint(0, 4, (3, 5), generator=g)
    hx_cx = (torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g))
    results = []
    for agent in (eager, compiled):
        agent.zero_grad()
        rew, end, _ = agent.rew_end_model(obs[:, :-1], act[:, :-1], obs[:, 1:])  # T = 4: nn.LSTM
        out = agent.actor_critic(obs[:, -1], hx_cx)
        (rew.square().sum() + end.sum() + out.logits_act.square().sum() + out.val.sum()).backward()
        grads = {k: p.grad.clone() for k, p in agent.named_parameters() if p.grad is not None}
        results.append((rew.detach(), end.detach(), out.logits_act.detach(), out.val.detach(), grads))
    assert graph_breaks() == 0
    (*ref, ref_grads), (*got, got_grads) = results
    for a, b in zip(got, ref, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    assert got_grads.keys() == ref_grads.keys() and any(k.startswith("rew_end_model.lstm") for k in got_grads)
    for k, v in got_grads.items():
        torch.testing.assert_close(v, ref_grads[k], atol=1e-4, rtol=1e-3, msg=k)
