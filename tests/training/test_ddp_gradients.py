"""DistributedDataParallel updates: one update of each trained part on 2 ranks x batch b is the update of 1 process
x batch 2b on the same segments and noise (gloo, 2 CPU processes, tiny networks). With gradient accumulation (the
sum of the micro-batches' gradients) and clipping (after the all-reduce) active."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from diamond_wm.bench.workloads import (
    BenchSettings,
    build_agent,
    img_shape,
    random_batch,
    randomize_zero_layers,
)
from diamond_wm.config.agent import ActorCriticLossConfig, SigmaDistributionConfig
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.models.diffusion import edm_denoising_loss
from diamond_wm.runtime.distributed import DistContext
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.objectives import ActorCriticObjective, RewEndObjective
from diamond_wm.training.optim import configure_optimizer
from diamond_wm.training.rollout import RolloutOutput

B = 2  # segments per rank (the single process gets 2B)
WORLD = 2
ACC = 2  # micro-batches per update
PARTS = ("denoiser", "rew_end_model", "actor_critic")
CLIP = 1e-3  # small enough that every update is clipped


class _DenoiserWithDraws(nn.Module):
    """The denoiser's objective with its noise given with the batch (the same noise for 1 and 2 processes)."""

    def __init__(self, denoiser: nn.Module) -> None:
        super().__init__()
        self.denoiser = denoiser
        self.sigma = SigmaDistributionConfig()

    def forward(self, item: tuple[Any, list[dict[str, torch.Tensor]]]):
        batch, draws = item
        return edm_denoising_loss(self.denoiser, batch, self.sigma, draws=draws)


class _FixedRollout:
    """Imagination replaced by fixed frames, actions, rewards and ends: the actor-critic's outputs (with their
    gradients) along them."""

    def __init__(self, actor_critic: nn.Module, data: dict[str, torch.Tensor]) -> None:
        self.ac, self.d = actor_critic, data

    def run(self) -> RolloutOutput:
        obs = self.d["obs"]  # (N, T + 1, C, H, W)
        t_len = obs.size(1) - 1
        hx_cx, logits, vals = None, [], []
        for t in range(t_len):
            out = self.ac(obs[:, t], hx_cx)
            logits.append(out.logits_act)
            vals.append(out.val)
            hx_cx = out.hx_cx
        with torch.no_grad():
            last = self.ac(obs[:, t_len], hx_cx).val
        val = torch.stack(vals, dim=1)  # (N, T)
        boot = torch.cat([val[:, 1:].detach(), last[:, None]], dim=1)
        return RolloutOutput(
            torch.stack(logits, dim=1),
            val,
            self.d["act"],
            self.d["rew"],
            self.d["end"],
            self.d["trunc"],
            boot,
        )


def _agent() -> nn.Module:
    """The tiny agent, seeded, every layer random (the bench's termination head is zeroed: re-randomised, so that
    every parameter gets a gradient)."""
    agent = build_agent(BenchSettings(tiny=True, seed=0))
    randomize_zero_layers(agent)
    return agent


def _data(agent: nn.Module) -> dict[str, list]:
    """ACC micro-batches of 2B segments for each part (drawn once: every process builds the same)."""
    cfg = TrainerConfig()
    cfg.agent = agent.cfg
    chw = img_shape(agent)
    gen = torch.Generator().manual_seed(123)
    n = agent.denoiser.num_steps_conditioning
    out: dict[str, list] = {p: [] for p in PARTS}
    for _ in range(ACC):
        batch = random_batch(WORLD * B, n + 2, chw, gen, torch.device("cpu"))
        draws = [
            {
                "sigma": torch.rand(WORLD * B, generator=gen) + 0.1,
                "offset_noise": 0.3 * torch.randn(WORLD * B, chw[0], 1, 1, generator=gen),
                "eps": torch.randn(WORLD * B, *chw, generator=gen),
            }
            for _ in range(2)
        ]
        out["denoiser"].append((batch, draws))
        out["rew_end_model"].append(random_batch(WORLD * B, 8, chw, gen, torch.device("cpu")))
        t_len = 5
        out["actor_critic"].append(
            {
                "obs": random_batch(WORLD * B, t_len + 1, chw, gen, torch.device("cpu")).obs,
                "act": torch.randint(0, 4, (WORLD * B, t_len), generator=gen),
                "rew": torch.randint(-1, 2, (WORLD * B, t_len), generator=gen).float(),
                "end": (torch.rand(WORLD * B, t_len, generator=gen) < 0.2).long(),
                "trunc": torch.zeros(WORLD * B, t_len, dtype=torch.long),
            }
        )
    return out


def _rows(x: Any, rows: slice) -> Any:
    """The segments `rows` of a batch, its draws or a rollout's data."""
    if isinstance(x, torch.Tensor):
        return x[rows]
    if isinstance(x, dict):
        return {k: _rows(v, rows) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_rows(v, rows) for v in x)
    if hasattr(x, "obs"):  # a Batch
        return type(x)(
            x.obs[rows], x.act[rows], x.rew[rows], x.end[rows], x.trunc[rows], x.mask_padding[rows]
        )
    raise TypeError(type(x))


def _one_update(part: str, rows: slice, ctx: DistContext) -> dict[str, dict[str, torch.Tensor]]:
    """One update (ACC micro-batches of `rows`) of `part` of the seeded tiny agent; its weights and gradients."""
    agent = _agent()
    micro = [_rows(x, rows) for x in _data(agent)[part]]
    model = getattr(agent, part)
    if part == "denoiser":
        objective, batches = _DenoiserWithDraws(model), iter(micro).__next__
    elif part == "rew_end_model":
        objective, batches = RewEndObjective(model), iter(micro).__next__
    else:
        rollouts = iter([_FixedRollout(model, m) for m in micro])
        objective = ActorCriticObjective(model, None, ActorCriticLossConfig())

        def batches() -> None:  # each micro-batch: the next fixed rollout
            objective.rollout = next(rollouts)

    cfg = getattr(TrainerConfig(), part)
    opt, sched = configure_optimizer(model, cfg.optimizer, 0)
    comp = ComponentState(part, model, objective, batches, opt, sched, ACC, CLIP)
    comp.wrap_ddp(ctx)
    train_component(comp, steps=1, show_progress=False)
    return {
        "weights": {k: v.detach().clone() for k, v in model.named_parameters()},
        "grads": {k: v.grad.detach().clone() for k, v in model.named_parameters()},
    }


def _rank(rank: int, rendezvous: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD)
    try:
        ctx = DistContext(rank, WORLD, rank, torch.device("cpu"))
        rows = slice(rank * B, (rank + 1) * B)
        results = {part: _one_update(part, rows, ctx) for part in PARTS}
        torch.save(results, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_ranks_of_batch_b_update_as_one_process_of_batch_2b(tmp_path):
    mp.spawn(_rank, args=(str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    single = DistContext()
    for part in PARTS:
        ref = _one_update(part, slice(0, WORLD * B), single)
        for r, res in enumerate(ranks):
            for name, w in ref["weights"].items():
                torch.testing.assert_close(
                    res[part]["weights"][name], w, rtol=0, atol=1e-6, msg=f"{part} {name} r{r}"
                )
                g = ref["grads"][name]
                torch.testing.assert_close(
                    res[part]["grads"][name], g, rtol=1e-4, atol=1e-7, msg=f"{part} {name}"
                )
        # Every parameter takes part in the loss (DDP needs no find_unused_parameters), and the ranks hold
        # exactly the same weights.
        unused = [n for n, g in ref["grads"].items() if not g.any()]
        assert not unused, f"{part}: parameters without gradient: {unused}"
        for name in ref["weights"]:
            assert torch.equal(ranks[0][part]["weights"][name], ranks[1][part]["weights"][name])
