"""CUDA graphs (`training.cuda_graphs`, `diamond bench --cuda-graphs`): refused with one line off CUDA, before a run
folder gets anything; on CUDA, the U-Nets captured as CUDA graphs give the default compile's outputs and train."""

from __future__ import annotations

import copy

import pytest
import torch

from diamond_wm.bench.workloads import BenchSettings, build_agent
from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.config.errors import ConfigError
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.config.validation import validate_trainer_config
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.runtime.compile import compile_for_training, compile_world_model
from tests.conftest import run_cli
from tests.runtime.test_compile import _agent, denoise_inputs
from tests.training.test_train_cli import CATCH

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA GPU")


@pytest.mark.parametrize("compile_fn", [compile_world_model, compile_for_training])
def test_compiling_with_cuda_graphs_off_cuda_is_refused_naming_the_device(compile_fn):
    with pytest.raises(ValueError, match="CUDA graphs need a cuda device, got 'cpu'"):
        compile_fn(_agent(), cuda_graphs=True)


def test_training_with_cuda_graphs_on_cpu_is_refused_before_the_run_folder_is_written(tmp_path):
    run_dir = tmp_path / "run"
    res = run_cli(
        "train",
        *CATCH,
        "training.compile=true",
        "training.cuda_graphs=true",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert res.returncode != 0
    assert "CUDA graphs need a cuda device, got 'cpu'" in res.stderr
    assert not [p for p in run_dir.rglob("*") if ".hydra" not in p.parts]  # Hydra's own record only


def test_cuda_graphs_without_compile_is_an_invalid_config(tmp_path):
    res = run_cli(
        "train", *CATCH, "training.cuda_graphs=true", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path
    )
    assert res.returncode != 0
    assert "training.cuda_graphs=True: expected false, or true with training.compile=true" in res.stderr


@pytest.mark.parametrize("value", [1, "yes", None])
def test_cuda_graphs_takes_only_a_boolean(value):
    cfg = TrainerConfig()
    cfg.training.cuda_graphs = value  # a library caller's config: no OmegaConf type check before ours
    with pytest.raises(ConfigError, match=f"training.cuda_graphs={value!r}: expected true or false"):
        validate_trainer_config(cfg)


def test_bench_refuses_cuda_graphs_without_compile_or_off_cuda():
    for args in (("--cuda-graphs",), ("--compile", "--cuda-graphs", "--device", "cpu")):
        res = run_cli("bench", "--tiny", *args)
        assert res.returncode == 2
        assert "--cuda-graphs needs --compile and a cuda device" in res.stderr


@needs_cuda
def test_cuda_graphs_denoise_and_imagine_as_the_default_compile_does():
    from torch._dynamo.utils import counters

    counters.clear()
    ref = _agent().cuda()
    graphed = copy.deepcopy(ref)
    compile_world_model(ref, freeze=False)
    compile_world_model(graphed, freeze=False, cuda_graphs=True)
    x, sigma, obs, act = denoise_inputs("cuda")
    with torch.inference_mode():
        for _ in range(3):  # recording, then replays
            out = graphed.denoiser.denoise(x, sigma, obs, act)
            expected = ref.denoiser.denoise(x, sigma, obs, act)
            assert (out - expected).abs().max().item() <= 2 / 255 + 1e-6
        x_init = torch.randn_like(x)
        samples = []
        for agent in (ref, graphed):  # 3 Euler steps: each U-Net output is used before the next call
            sampler = DiffusionSampler(agent.denoiser, DiffusionSamplerConfig(num_steps_denoising=3))
            samples.append(sampler.sample(obs, act, x_init=x_init)[0])
    assert (samples[0] - samples[1]).abs().max().item() <= 4 / 255 + 1e-6
    assert counters["inductor"]["cudagraph_skips"] == 0  # Inductor falls back to plain launches silently


@needs_cuda
@pytest.mark.parametrize("name", ["denoiser_train_step", "actor_critic_train_step", "wm_step"])
def test_training_steps_run_with_cuda_graphs(name):
    from torch._dynamo.utils import counters

    from diamond_wm.bench.runner import run_bench

    counters.clear()
    settings = BenchSettings(device=torch.device("cuda"), tiny=True, compile=True, cuda_graphs=True)
    results = run_bench(settings, [name], warmup=2, repeats=2)
    assert results["cuda_graphs"] and results[f"{name}_s"] > 0
    assert counters["inductor"]["cudagraph_skips"] == 0
    assert build_agent(settings).denoiser.inner_model._compiled_call_impl is not None
