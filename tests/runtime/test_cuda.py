"""On a CUDA GPU (skipped without one): training updates in float32 and bf16, the world model's denoising against
the CPU's, compiled against eager, and a whole tiny `diamond train` run on the device."""

from __future__ import annotations

import copy

import pytest
import torch

from diamond_wm.bench.workloads import randomize_zero_layers, tiny_agent_config
from diamond_wm.config.agent import SigmaDistributionConfig
from diamond_wm.config.trainer import OptimizerConfig
from diamond_wm.models.agent import Agent
from diamond_wm.runtime.compile import compile_world_model
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.objectives import DenoiserObjective
from diamond_wm.training.optim import configure_optimizer
from tests.models.test_world_model import make_batch
from tests.runtime.test_compile import denoise_inputs
from tests.training.test_train_cli import CATCH, final_state, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


def _agent(num_actions: int = 4) -> Agent:
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), num_actions)
    randomize_zero_layers(agent)
    return agent.eval()


@pytest.mark.parametrize("precision, dtype", [("fp32", torch.float32), ("bf16", torch.bfloat16)])
def test_updates_on_cuda_run_in_the_precision_and_keep_float32_weights(precision, dtype):
    torch.manual_seed(0)
    agent = Agent(tiny_agent_config(), 3).to(CUDA)
    seen: list[torch.dtype] = []
    agent.denoiser.inner_model.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    opt, sched = configure_optimizer(agent.denoiser, OptimizerConfig(), 1)
    batch = make_batch(2, 6).to(CUDA)  # 4 conditioning frames + 2 to denoise
    objective = DenoiserObjective(agent.denoiser, SigmaDistributionConfig())
    comp = ComponentState("denoiser", agent.denoiser, objective, lambda: batch, opt, sched, 1, 1.0)
    comp.precision = precision
    before = {k: v.clone() for k, v in agent.denoiser.state_dict().items()}
    metrics = train_component(comp, steps=2, show_progress=False)
    assert seen and set(seen) == {dtype}
    assert all(p.dtype == torch.float32 and p.is_cuda for p in agent.denoiser.parameters())
    assert any(not torch.equal(before[k], v) for k, v in agent.denoiser.state_dict().items())  # it learned
    assert torch.isfinite(torch.tensor(metrics["denoiser/loss_denoising"]))


def test_denoising_on_cuda_matches_the_cpu():
    cpu = _agent()
    gpu = copy.deepcopy(cpu).to(CUDA)
    with torch.inference_mode():
        ref = cpu.denoiser.denoise(*denoise_inputs(torch.device("cpu")))
        out = gpu.denoiser.denoise(*denoise_inputs(CUDA)).cpu()
    # denoise() quantizes to 8 bits: CUDA's kernels (TF32 convolutions by default) may flip a level at a boundary
    assert (out - ref).abs().max().item() <= 4 / 255 + 1e-6
    assert (out != ref).float().mean().item() < 0.05


@pytest.mark.slow
def test_compiled_world_model_on_cuda_matches_eager():
    eager = _agent().to(CUDA)
    compiled = copy.deepcopy(eager)
    compile_world_model(compiled, freeze=True)
    inputs = denoise_inputs(CUDA)
    with torch.inference_mode():
        ref, out = eager.denoiser.denoise(*inputs), compiled.denoiser.denoise(*inputs)
    assert (out - ref).abs().max().item() <= 4 / 255 + 1e-6
    assert (out != ref).float().mean().item() < 0.05


@pytest.mark.slow
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_a_tiny_run_trains_on_cuda(tmp_path, precision):
    overrides = [o for o in CATCH if not o.startswith("common.devices=")]
    _, run_dir = train(tmp_path, *overrides, "common.devices=cuda", f"training.precision={precision}")
    state = final_state(run_dir)
    assert (run_dir / "FINISHED").is_file() and state["epoch"] == 3
    weights = [v for v in state["agent"].values() if v.is_floating_point()]
    assert weights and all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in weights)
