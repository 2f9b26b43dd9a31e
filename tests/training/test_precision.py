"""`training.precision=bf16`: the networks' forward passes in bf16 autocast, the weights, the optimizer state and
the losses in float32; a bf16 run trains, and two bf16 runs with the same seed end with the same weights."""

from __future__ import annotations

import signal

import pytest
import torch

from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.errors import ConfigError
from diamond_wm.models.agent import Agent
from diamond_wm.runtime.precision import bf16_is_native
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.objectives import DenoiserObjective
from diamond_wm.training.optim import configure_optimizer
from tests.conftest import run_cli
from tests.models.conftest import tiny_agent_config
from tests.models.test_world_model import make_batch
from tests.training.test_train_cli import CATCH, final_state, stop_at_epoch, train


def denoiser_component(precision: str) -> tuple[ComponentState, list[torch.dtype]]:
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), 3)
    seen: list[torch.dtype] = []
    agent.denoiser.inner_model.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    opt, sched = configure_optimizer(agent.denoiser, agent_optimizer(), 1)
    batch = make_batch(2, 4)
    objective = DenoiserObjective(agent.denoiser, SigmaDistributionConfig())
    comp = ComponentState("denoiser", agent.denoiser, objective, lambda: batch, opt, sched, 1, 1.0)
    comp.precision = precision
    return comp, seen


def agent_optimizer():
    from diamond_wm.config.trainer import OptimizerConfig

    return OptimizerConfig()


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_updates_run_the_networks_in_the_precision_and_keep_float32_weights(precision, dtype):
    comp, seen = denoiser_component(precision)
    before = {k: v.clone() for k, v in comp.model.state_dict().items()}
    metrics = train_component(comp, steps=2, show_progress=False)
    assert seen and set(seen) == {dtype}
    assert all(p.dtype == torch.float32 for p in comp.model.parameters())
    for state in comp.optimizer.state.values():  # AdamW moments: float32 master state
        assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point() and v.ndim > 0)
    assert any(not torch.equal(before[k], v) for k, v in comp.model.state_dict().items())  # it learned
    assert torch.isfinite(torch.tensor(metrics["denoiser/loss_denoising"]))


def test_bf16_loss_is_close_to_float32s():
    losses = []
    for precision in ("fp32", "bf16"):
        comp, _ = denoiser_component(precision)
        torch.manual_seed(1)  # the same noise levels and noise
        losses.append(train_component(comp, steps=1, show_progress=False)["denoiser/loss_denoising"])
    a, b = losses
    assert abs(a - b) <= 0.05 * abs(a)


def test_an_unknown_precision_is_refused_naming_the_key():
    with pytest.raises(ConfigError, match="training.precision='fp16': expected fp32 or bf16"):
        to_trainer_config(compose_trainer_config(["training.precision=fp16"]))


@pytest.mark.skipif(not bf16_is_native("cpu"), reason="this CPU has no native bf16 (emulated: very slow)")
def test_a_bf16_run_trains_and_is_reproducible(tmp_path):
    _, first = train(tmp_path, *CATCH, "training.precision=bf16", name="a")
    _, second = train(tmp_path, *CATCH, "training.precision=bf16", name="b")
    _, fp32 = train(tmp_path, *CATCH, name="fp32")
    a, b, c = final_state(first)["agent"], final_state(second)["agent"], final_state(fp32)["agent"]
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed, same settings, same machine: same weights
    assert all(a[k].dtype == c[k].dtype for k in a)  # float32 weights in the checkpoint either way
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())  # bf16 did run


@pytest.mark.skipif(not bf16_is_native("cpu"), reason="this CPU has no native bf16 (emulated: very slow)")
def test_resuming_under_another_precision_says_so_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    res, lines = resume_changed(tmp_path, run_dir, "precision: fp32", "precision: bf16")
    assert len(lines) == 1 and lines[0].endswith("training.precision fp32 -> bf16"), res.stderr[-2000:]
    assert final_state(run_dir)["numerics"]["precision"] == "bf16"


def resume_changed(tmp_path, run_dir, old: str, new: str):
    """Stop a tiny run after epoch 1, replace `old` by `new` in its config, resume it: (the resume's completed
    process, its "resuming under other numerics" lines)."""
    stop_at_epoch(tmp_path, run_dir, 1, signal.SIGTERM)
    config = run_dir / "config" / "trainer.yaml"
    assert old in config.read_text()
    config.write_text(config.read_text().replace(old, new))
    res = run_cli("train", "--resume", str(run_dir), "--no-progress", cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res, [line for line in res.stderr.splitlines() if "resuming under other numerics" in line]


def test_the_reward_termination_model_runs_in_float32_under_bf16_autocast():
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), 3)
    model, seen = agent.rew_end_model, []
    for module in (model.encoder.conv_in, model.head):
        module.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    batch = make_batch(2, 4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss, _ = model.compute_loss(batch)
    assert seen == [torch.float32, torch.float32] and loss.dtype == torch.float32
    fp32_loss, _ = model.compute_loss(batch)
    torch.testing.assert_close(loss, fp32_loss)  # the same computation as without autocast
