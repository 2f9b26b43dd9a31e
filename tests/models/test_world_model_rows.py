"""`WorldModel` steps a changing set of independent environments as one batch: three environments that join at
different steps and one that leaves each imagine exactly what they imagine alone with the same seed (within float
rounding before the 8-bit quantisation of each frame; the same frames after it)."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.envs.world_model_env import WorldModelEnv, step_together, warm_up_buckets
from diamond_wm.models.agent import Agent
from diamond_wm.models.diffusion import DiffusionSampler, build_sampler
from diamond_wm.models.world_model import WorldModel, WorldState, mix_seeds
from tests.models.conftest import tiny_agent_config

NUM_ACTIONS = 3
STEPS = 8
# name -> (row seed, joins before step, leaves after step)
ENVS = {"a": (11, 0, STEPS), "b": (22, 2, 5), "c": (33, 4, STEPS)}


def make_world_model(parameterisation: str = "edm") -> WorldModel:
    torch.manual_seed(0)
    cfg = tiny_agent_config()
    cfg.denoiser.parameterisation = parameterisation
    agent = Agent(cfg, NUM_ACTIONS).eval()
    with torch.no_grad():  # rewards and ends of every kind get drawn
        agent.rew_end_model.head[-1].weight.normal_(0, 2.0)
    # Churn and Heun steps: every kind of draw (initial noise, churn noise) and two network calls per step.
    sampler_cfg = DiffusionSamplerConfig(num_steps_denoising=3, order=2, s_churn=1.0)
    return WorldModel(build_sampler(agent.denoiser, sampler_cfg), agent.rew_end_model, seed=7)


def context(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(1, 2, 3, 16, 16, generator=g) * 2 - 1, torch.randint(
        0, NUM_ACTIONS, (1, 2), generator=g
    )


def actions(seed: int) -> torch.Tensor:
    return torch.randint(0, NUM_ACTIONS, (STEPS,), generator=torch.Generator().manual_seed(seed + 1))


class NetworkOutputs:
    """The raw network outputs F(x) of every call (before preconditioning and quantisation), by call."""

    def __init__(self, world_model: WorldModel) -> None:
        self.calls: list[torch.Tensor] = []
        world_model.denoiser.inner_model.register_forward_hook(
            lambda m, i, out: self.calls.append(out.clone())
        )


def run_alone(name: str) -> tuple[list[torch.Tensor], list[torch.Tensor], list[tuple[float, int]]]:
    """(frames, network outputs, (reward, end)) of one environment stepped by itself."""
    seed, join, leave = ENVS[name]
    wm = make_world_model()
    hook = NetworkOutputs(wm)
    state = wm.start(context(seed), [wm.generator(seed)])
    frames, outs, rew_end = [], [], []
    for k in range(leave - join):
        hook.calls.clear()
        out = wm.step(state, actions(seed)[k : k + 1])
        frames.append(out.obs[0])
        outs.append(torch.stack([c[0] for c in hook.calls]))
        rew_end.append((float(out.rew[0]), int(out.end[0])))
    return frames, outs, rew_end


def run_batched() -> tuple[dict[str, list], dict[str, list], dict[str, list], list[int]]:
    wm = make_world_model()
    hook = NetworkOutputs(wm)
    rows: list[str] = []
    state: WorldState | None = None
    frames = {n: [] for n in ENVS}
    outs = {n: [] for n in ENVS}
    rew_end = {n: [] for n in ENVS}
    sizes = []
    for step in range(STEPS):
        for name, (seed, join, _) in ENVS.items():  # join
            if join == step:
                fresh = wm.start(context(seed), [wm.generator(seed)])
                state = fresh if state is None else WorldState.cat([state, fresh])
                rows.append(name)
        assert state is not None
        act = torch.stack([actions(ENVS[n][0])[step - ENVS[n][1]] for n in rows])
        hook.calls.clear()
        out = wm.step(state, act)
        sizes.append(len(rows))
        for i, name in enumerate(rows):
            frames[name].append(out.obs[i])
            outs[name].append(torch.stack([c[i] for c in hook.calls]))
            rew_end[name].append((float(out.rew[i]), int(out.end[i])))
        keep = [i for i, n in enumerate(rows) if ENVS[n][2] > step + 1]  # leave
        if len(keep) < len(rows):
            state, rows = state.select(keep), [rows[i] for i in keep]
    return frames, outs, rew_end, sizes


def test_environments_that_join_and_leave_imagine_what_they_imagine_alone():
    frames, outs, rew_end, sizes = run_batched()
    assert sizes == [1, 1, 2, 2, 3, 2, 2, 2]  # b joins at 2, c at 4, b leaves after step 4 (its 3rd)
    level = 2 / 255
    for name in ENVS:
        alone_frames, alone_outs, alone_rew_end = run_alone(name)
        assert len(frames[name]) == len(alone_frames) > 0
        for k, (a, b) in enumerate(zip(frames[name], alone_frames, strict=True)):
            diff = (a - b).abs()
            # Equal after quantisation, except where a value sits on an 8-bit rounding boundary: one level apart.
            assert diff.max() <= level + 1e-6, f"{name} step {k}: frames differ by {diff.max():.4g}"
            assert (diff > 0).float().mean() < 0.01, f"{name} step {k}: {int((diff > 0).sum())} values differ"
        for k, (a, b) in enumerate(zip(outs[name], alone_outs, strict=True)):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=0, msg=f"{name} step {k}: network outputs")
        assert rew_end[name] == alone_rew_end, name


def test_each_row_draws_from_its_own_generator():
    # Three rows on one context: the two with the same seed imagine the same, the third something else.
    wm = make_world_model()
    obs, act = context(1)
    state = wm.start((obs.expand(3, -1, -1, -1, -1), act.expand(3, -1)), [wm.generator(s) for s in (5, 5, 6)])
    rewards = set()
    for k in range(4):
        out = wm.step(state, torch.full((3,), k % NUM_ACTIONS))
        assert torch.equal(out.obs[0], out.obs[1])
        assert not torch.equal(out.obs[0], out.obs[2])
        rewards |= set(out.rew.tolist())
    assert rewards <= {-1.0, 0.0, 1.0}


def test_row_generators_mix_the_world_model_seed_and_the_row_seed():
    wm = make_world_model()
    draw = lambda g: torch.randn(4, generator=g)  # noqa: E731
    assert torch.equal(draw(wm.generator(1)), draw(wm.generator(1)))
    assert not torch.equal(draw(wm.generator(1)), draw(wm.generator(2)))
    other = make_world_model()
    other.seed = 8
    assert not torch.equal(draw(wm.generator(1)), draw(other.generator(1)))
    assert mix_seeds(7, 1) != mix_seeds(1, 7)


@pytest.mark.parametrize("parameterisation", ["edm", "ddpm"])
def test_step_together_equals_stepping_each_environment(parameterisation: str):
    """Environments of one world model with their own horizons (players), stepped as one batch."""

    def envs() -> list[WorldModelEnv]:
        wm = make_world_model(parameterisation)
        out = []
        for seed, horizon in ((1, 3), (2, 5)):
            env = WorldModelEnv(wm, lambda count, g, s=seed: context(s), 1, horizon)
            env.reset(seed=seed)
            out.append(env)
        return out

    together, apart = envs(), envs()
    restarts = 0
    for k in range(7):
        acts = [torch.tensor([k % NUM_ACTIONS]), torch.tensor([(k + 1) % NUM_ACTIONS])]
        got = step_together(together, acts)
        want = [env.step(a) for env, a in zip(apart, acts, strict=True)]
        for g, w in zip(got, want, strict=True):
            assert (g[0] - w[0]).abs().max() <= 2 / 255 + 1e-6
            assert [t.tolist() for t in g[1:4]] == [t.tolist() for t in w[1:4]]
            restarts += int(g[4]["reset_mask"].sum())
    assert [int(e.t[0]) for e in together] == [int(e.t[0]) for e in apart]
    assert restarts >= 2  # 7 steps at horizons 3 and 5


def test_a_world_model_refuses_contexts_of_the_wrong_shape():
    wm = make_world_model()
    obs, act = context(1)
    with pytest.raises(ValueError, match=r"contexts must be \(2, 2, C, H, W\) frames and \(2, 2\) actions"):
        wm.start((obs, act), [wm.generator(1), wm.generator(2)])
    assert isinstance(wm.sampler, DiffusionSampler)


def test_padding_to_a_bucket_changes_nothing_and_warm_up_leaves_the_state():
    def envs() -> list[WorldModelEnv]:
        wm = make_world_model()
        out = []
        for seed in (1, 2, 3):
            env = WorldModelEnv(wm, lambda count, g, s=seed: context(s), 1, 5)
            env.reset(seed=seed)
            out.append(env)
        return out

    padded, plain = envs(), envs()
    before = padded[0].state_dict()
    warm_up_buckets(padded[0], (1, 2, 4))
    after = padded[0].state_dict()
    for k in ("obs_buffer", "act_buffer"):
        assert torch.equal(before[k], after[k])
    assert all(torch.equal(a, b) for a, b in zip(before["generators"], after["generators"], strict=True))
    for k in range(4):
        acts = [torch.tensor([(k + i) % NUM_ACTIONS]) for i in range(3)]
        got = step_together(padded, acts, buckets=(1, 2, 4))  # 3 rows padded to 4
        want = step_together(plain, acts)
        for g, w in zip(got, want, strict=True):
            assert (g[0] - w[0]).abs().max() <= 2 / 255 + 1e-6
            assert [t.tolist() for t in g[1:4]] == [t.tolist() for t in w[1:4]]
