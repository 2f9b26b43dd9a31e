"""The published trainer's schedule: LR warm-up, gradient accumulation, first-epoch updates, the epoch schedule.

Each expectation is written from the published trainer's rules (see `diamond_wm.training.schedule`), not from
our code's output.
"""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.trainer import ComponentTrainingConfig, OptimizerConfig
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.optim import configure_optimizer
from diamond_wm.training.schedule import component_steps
from diamond_wm.training.trainer import Trainer


def _lrs_of_updates(num_updates: int, lr_warmup_steps: int, lr: float = 1e-4) -> list[float]:
    model = nn.Linear(2, 2)
    opt, sched = configure_optimizer(model, OptimizerConfig(lr=lr), lr_warmup_steps)
    lrs = []
    for _ in range(num_updates):
        lrs.append(opt.param_groups[0]["lr"])  # the LR this update runs at
        opt.step()
        sched.step()
    return lrs


def test_warmup_multiplier_of_updates_0_to_120():
    lrs = _lrs_of_updates(121, lr_warmup_steps=100)
    expected = [1e-4 * min(1.0, k / 100) for k in range(121)]  # update 0 at LR 0, full LR from update 100
    assert lrs == pytest.approx(expected, rel=1e-12, abs=0)
    assert lrs[0] == 0.0 and lrs[1] == pytest.approx(1e-6) and lrs[99] < 1e-4 and lrs[100] == 1e-4


def test_no_warmup_runs_at_full_lr_from_the_first_update():
    assert _lrs_of_updates(3, lr_warmup_steps=0) == [1e-4] * 3


class _SquareObjective(nn.Module):
    """A component objective: forward(batch) -> (loss, metrics)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return (self.model(x) ** 2).sum() * 3.0, {}


@pytest.mark.parametrize("max_grad_norm", [1e6, 0.5], ids=["clipping-does-not-fire", "clipping-fires"])
def test_three_updates_with_accumulation_sum_the_gradients(max_grad_norm):
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    reference = copy.deepcopy(model)
    inputs = [torch.randn(5, 4) for _ in range(6)]  # 3 updates x 2 accumulated losses
    warmup, lr = 2, 1e-2

    opt, sched = configure_optimizer(model, OptimizerConfig(lr=lr, weight_decay=0.0), warmup)
    batches = iter(inputs)
    comp = ComponentState(
        "m", model, _SquareObjective(model), lambda: next(batches), opt, sched, 2, max_grad_norm
    )
    norms = []
    for _ in range(3):  # one update per call, to see each update's gradient norm
        out = train_component(comp, 1, show_progress=False)
        norms.append(out["m/grad_norm"])

    # The published rule, by hand: gradients of both losses summed, clipped, then AdamW at LR x min(1, k / 2).
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=lr, weight_decay=0.0, eps=1e-8)
    ref_norms = []
    for u in range(3):
        grads = [torch.zeros_like(p) for p in reference.parameters()]
        for x in inputs[2 * u : 2 * u + 2]:
            g = torch.autograd.grad((reference(x) ** 2).sum() * 3.0, list(reference.parameters()))
            grads = [a + b for a, b in zip(grads, g, strict=True)]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        ref_norms.append(float(norm))
        scale = min(1.0, max_grad_norm / (float(norm) + 1e-6))
        for p, g in zip(reference.parameters(), grads, strict=True):
            p.grad = g * scale
        ref_opt.param_groups[0]["lr"] = lr * min(1.0, u / warmup)
        ref_opt.step()

    assert norms == pytest.approx(ref_norms, rel=1e-5)  # the norm of the summed gradients, before clipping
    fired = [n > max_grad_norm for n in ref_norms]
    assert all(fired) if max_grad_norm < 1 else not any(fired)
    for p, q in zip(model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-7)


def test_each_updates_loss_is_recorded_in_order():
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    reference = copy.deepcopy(model)
    inputs = [torch.randn(5, 4) for _ in range(8)]  # 4 updates x 2 accumulated losses
    opt, sched = configure_optimizer(model, OptimizerConfig(lr=1e-2, weight_decay=0.0), 0)
    batches = iter(inputs)
    comp = ComponentState("m", model, _SquareObjective(model), lambda: next(batches), opt, sched, 2, None)
    out = train_component(comp, 4, show_progress=False)

    # By hand: each update's loss is the sum of its two batches' losses, before its own step.
    ref_opt = torch.optim.AdamW(reference.parameters(), lr=1e-2, weight_decay=0.0, eps=1e-8)
    expected = []
    for u in range(4):
        ref_opt.zero_grad()
        loss = sum((reference(x) ** 2).sum() * 3.0 for x in inputs[2 * u : 2 * u + 2])
        expected.append(float(loss))
        loss.backward()
        ref_opt.step()
    assert out["m/loss_per_update"] == pytest.approx(expected, rel=1e-4)  # 5 significant digits
    assert expected[-1] < expected[0]  # the updates changed the model between the recorded losses


def test_steps_first_epoch_applies_at_epoch_1_only():
    t = ComponentTrainingConfig(start_after_epochs=0, steps_first_epoch=7, steps_per_epoch=3)
    assert [component_steps(t, e) for e in (1, 2, 3)] == [7, 3, 3]
    t = ComponentTrainingConfig(start_after_epochs=2, steps_first_epoch=7, steps_per_epoch=3)
    # Published: a component trains once epoch > start_after_epochs, and `steps_first_epoch` means epoch 1.
    assert [component_steps(t, e) for e in (1, 2, 3, 4)] == [0, 0, 3, 3]


def tiny_catch_config(*overrides: str):
    """Catch at 16x16 with the tiny networks on CPU, seed 0."""
    base = ["env=catch", "env.train.size=16", "agent=tiny", "common.devices=cpu", "common.seed=0"]
    return to_trainer_config(compose_trainer_config([*base, *overrides]))


def _schedule_of(tmp_path, monkeypatch, *overrides: str) -> tuple[list[tuple[int, int]], Trainer]:
    """(epoch, environment steps in the training dataset when that epoch's training starts) of a whole run."""
    cfg = tiny_catch_config("evaluation.should=false", "collection.test.num_final_episodes=0", *overrides)
    seen: list[tuple[int, int]] = []

    def record(self):
        seen.append((self.epoch, self.train_dataset.num_steps))
        return {}

    monkeypatch.setattr(Trainer, "_train_components", record)
    trainer = Trainer(cfg, tmp_path / "run", show_progress=False)
    trainer.run()
    return seen, trainer


def test_every_collecting_epoch_collects_before_it_trains(tmp_path, monkeypatch):
    seen, trainer = _schedule_of(
        tmp_path,
        monkeypatch,
        "collection.train.first_epoch.min=40",
        "collection.train.first_epoch.max=40",
        "collection.train.steps_per_epoch=20",
        "collection.train.num_steps_total=100",
        "training.num_final_epochs=2",
    )
    # 40 steps before epoch 1, which then collects its 20 like every collecting epoch: (100 - 40) / 20 = 3
    # collecting epochs, then the 2 final ones.
    assert seen == [(1, 60), (2, 80), (3, 100), (4, 100), (5, 100)]
    assert trainer.schedule.num_epochs_collect == 3 and trainer.num_env_steps == 100


def test_the_initial_collection_extends_by_steps_per_epoch_until_max(tmp_path, monkeypatch):
    seen, _ = _schedule_of(
        tmp_path,
        monkeypatch,
        "collection.train.first_epoch.min=40",
        "collection.train.first_epoch.max=75",
        "collection.train.first_epoch.threshold_rew=100000",  # never met: extended up to the maximum
        "collection.train.steps_per_epoch=20",
        "collection.train.num_steps_total=120",
        "training.num_final_epochs=1",
    )
    # 40, then 20 at a time while below 75: 60, 80. (120 - 80) / 20 = 2 collecting epochs.
    assert seen == [(1, 100), (2, 120), (3, 120)]


def test_several_devices_in_one_process_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    # `diamond train` starts one process per GPU (torchrun); a Trainer made directly with several is refused.
    import diamond_wm.training.ranks as ranks_module
    from diamond_wm.config.errors import ConfigError

    two = [torch.device("cuda:0"), torch.device("cuda:1")]
    monkeypatch.setattr(ranks_module, "resolve_devices", lambda spec: two)  # as `all` on a 2-GPU machine
    cfg = to_trainer_config(compose_trainer_config(["env=catch", "agent=tiny", "common.devices=all"]))
    with pytest.raises(
        ConfigError, match=r"common.devices='all': expected one device per process \(2 resolved\)"
    ):
        Trainer(cfg, tmp_path / "run", show_progress=False)
    assert not (tmp_path / "run").exists()


def test_cache_in_ram_false_keeps_no_episode_in_memory(tmp_path, monkeypatch):
    _, trainer = _schedule_of(
        tmp_path,
        monkeypatch,
        "training.cache_in_ram=false",
        "collection.train.first_epoch.min=40",
        "collection.train.first_epoch.max=40",
        "collection.train.steps_per_epoch=20",
        "collection.train.num_steps_total=60",
        "training.num_final_epochs=0",
    )
    assert not trainer.train_dataset.cache_in_ram and not trainer.train_dataset._cache
    assert trainer.test_dataset.cache_in_ram  # the test set is always cached, as published


@pytest.mark.parametrize("max_test_batches", [None, 2])
def test_the_test_losses_take_at_most_max_test_batches(tmp_path, monkeypatch, max_test_batches):
    from diamond_wm.training import trainer as trainer_module

    calls = []
    monkeypatch.setattr(
        trainer_module, "run_test_losses", lambda *a, **kw: calls.append(kw["max_batches"]) or {}
    )
    cfg = tiny_catch_config(
        "collection.train.first_epoch.min=20",
        "collection.train.first_epoch.max=20",
        "collection.train.num_steps_total=20",
        "training.num_final_epochs=1",
        "collection.test.num_episodes=1",
        "collection.test.num_final_episodes=1",
        f"evaluation.max_test_batches={'null' if max_test_batches is None else max_test_batches}",
        *(f"{p}.training.steps_first_epoch=1" for p in ("denoiser", "rew_end_model", "actor_critic")),
    )
    Trainer(cfg, tmp_path / "run", show_progress=False).run()
    assert calls and all(c == max_test_batches for c in calls)  # every evaluation, the final one too
