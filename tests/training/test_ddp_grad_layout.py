"""The weights of 1x1 convolutions and their gradients share one layout, so DistributedDataParallel trains the
actor-critic without its "Grad strides do not match bucket view strides" warning (2 gloo CPU processes; a batch
of 16 frames per rank takes oneDNN's convolution, whose weight gradients come back channels-last)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from diamond_wm.config.agent import ActorCriticConfig
from diamond_wm.config.trainer import OptimizerConfig
from diamond_wm.models.actor_critic import ActorCritic
from diamond_wm.runtime.distributed import DistContext
from diamond_wm.training.component import ComponentState, align_grad_layouts, train_component
from diamond_wm.training.optim import configure_optimizer

WORLD = 2
B = 16  # frames per rank
STRIDE_WARNING = "Grad strides do not match bucket view strides"


def _actor_critic() -> ActorCritic:
    """A seeded actor-critic whose second level widens its channels (a 1x1 skip projection)."""
    torch.manual_seed(0)
    cfg = ActorCriticConfig(lstm_dim=8, img_size=8, channels=[4, 8], down=[1, 0], num_actions=3)
    ac = ActorCritic(cfg)
    for head in (ac.actor_linear, ac.critic_linear):  # zero-initialised: random, so that every weight learns
        nn.init.normal_(head.weight, std=0.1)
    return ac


def _frames(rows: slice) -> torch.Tensor:
    return torch.randn(WORLD * B, 3, 8, 8, generator=torch.Generator().manual_seed(7))[rows]


class _Objective(nn.Module):
    """A loss of every output of the actor-critic over the frames of this process."""

    def __init__(self, ac: ActorCritic, frames: torch.Tensor) -> None:
        super().__init__()
        self.ac, self.frames = ac, frames

    def forward(self, batch: None) -> tuple[torch.Tensor, dict[str, float]]:
        out = self.ac(self.frames)
        loss = out.logits_act.logsumexp(-1).mean() + out.val.square().mean() + out.hx_cx[0].square().mean()
        return loss, {}


def _update(rows: slice, ctx: DistContext) -> tuple[ActorCritic, list[str]]:
    """One update of the actor-critic on the frames `rows`, through `ComponentState.wrap_ddp` as a run does;
    the warnings it raised."""
    ac = _actor_critic()
    objective = _Objective(ac, _frames(rows))
    opt, sched = configure_optimizer(ac, OptimizerConfig(), 0)
    comp = ComponentState("actor_critic", ac, objective, lambda: None, opt, sched, 1, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        comp.wrap_ddp(ctx)
        train_component(comp, steps=1, show_progress=False)
    return ac, [str(w.message) for w in caught]


def _rank(rank: int, rendezvous: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{rendezvous}", rank=rank, world_size=WORLD)
    try:
        ac, caught = _update(
            slice(rank * B, (rank + 1) * B), DistContext(rank, WORLD, rank, torch.device("cpu"))
        )
        grads = {k: p.grad.clone() for k, p in ac.named_parameters()}
        strides = {k: (p.stride(), p.grad.stride()) for k, p in ac.named_parameters()}
        torch.save({"grads": grads, "warnings": caught, "strides": strides}, Path(out_dir) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_ddp_trains_the_actor_critic_without_the_grad_stride_warning(tmp_path):
    mp.spawn(_rank, args=(str(tmp_path / "rendezvous"), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    ref = _actor_critic()  # one process over both ranks' frames, weights as built (no DDP, no relabelling)
    _Objective(ref, _frames(slice(0, WORLD * B)))(None)[0].backward()
    for r, res in enumerate(ranks):
        assert not [w for w in res["warnings"] if STRIDE_WARNING in w], f"rank {r}: {res['warnings']}"
        for name, (p_stride, g_stride) in res["strides"].items():
            assert p_stride == g_stride, f"rank {r} {name}: weight strides {p_stride}, gradient {g_stride}"
        for name, p in ref.named_parameters():
            torch.testing.assert_close(res["grads"][name], p.grad, rtol=1e-4, atol=1e-7, msg=f"r{r} {name}")


@pytest.mark.parametrize("batch", [2, B])  # CPU: the reference convolution (2) and oneDNN's (16)
@pytest.mark.parametrize("channels_last_input", [True, False])
def test_aligned_weights_get_gradients_of_their_strides(batch, channels_last_input):
    """Same values; with channels-last inputs (the networks' own) the very same bits, since the convolution
    already ran channels-last."""
    plain, aligned = _actor_critic(), _actor_critic()
    assert align_grad_layouts(aligned) == 1  # the skip projection; the 3x3 weights keep their layout
    assert align_grad_layouts(aligned) == 0
    weight = aligned.encoder.encoder[3].skip_projection.weight
    assert weight.stride() == (4, 1, 4, 4)
    assert torch.equal(weight, plain.encoder.encoder[3].skip_projection.weight)
    x = torch.randn(batch, 4, 8, 8)
    if channels_last_input:
        x = x.contiguous(memory_format=torch.channels_last)
    aligned.encoder.encoder[3].skip_projection(x).square().sum().backward()
    plain.encoder.encoder[3].skip_projection(x).square().sum().backward()
    assert weight.grad.stride() == weight.stride()
    for (name, a), (_, p) in zip(aligned.named_parameters(), plain.named_parameters(), strict=True):
        if p.grad is None:
            continue
        if channels_last_input:
            assert torch.equal(a.grad, p.grad), name
        else:
            torch.testing.assert_close(a.grad, p.grad, rtol=1e-5, atol=1e-5, msg=name)


def test_a_state_dict_of_aligned_weights_loads_into_a_plain_network():
    aligned = _actor_critic()
    align_grad_layouts(aligned)
    for p in aligned.parameters():
        p.data.add_(1.0)
    plain = _actor_critic()
    plain.load_state_dict(aligned.state_dict())
    for (name, a), (_, p) in zip(aligned.named_parameters(), plain.named_parameters(), strict=True):
        assert torch.equal(a, p), name
