"""`training.tf32`: off by default (PyTorch's defaults, the published numerics); on, float32 matmuls on CUDA may
use TF32; on CPU one log line and nothing else; recorded in the run state, so a resume under the other setting
says so in one line."""

from __future__ import annotations

import logging

import pytest
import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.errors import ConfigError
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.config.validation import validate_trainer_config
from diamond_wm.runtime.precision import apply_tf32, set_tf32, tf32_matmul
from tests.training.test_precision import resume_changed
from tests.training.test_train_cli import final_state

needs_ampere = pytest.mark.skipif(
    not torch.cuda.is_available() or torch.cuda.get_device_capability()[0] < 8,
    reason="needs a CUDA GPU with TF32 tensor cores (compute capability 8.0 or later)",
)


@pytest.fixture
def pytorch_defaults():
    """Every test ends with PyTorch's own TF32 settings, whatever it set."""
    yield
    set_tf32(False)


def _cudnn_conv_tf32() -> bool:
    conv = getattr(torch.backends.cudnn, "conv", None)
    return conv.fp32_precision == "tf32" if conv is not None else bool(torch.backends.cudnn.allow_tf32)


def test_off_by_default_in_the_preset_and_the_schema():
    assert to_trainer_config(compose_trainer_config([])).training.tf32 is False
    assert TrainerConfig().training.tf32 is False
    assert to_trainer_config(compose_trainer_config(["training.tf32=true"])).training.tf32 is True


def test_a_value_that_is_not_a_bool_is_refused_naming_the_key():
    with pytest.raises(ValueError, match="training.tf32: Value 'maybe' is not a valid bool"):
        to_trainer_config(compose_trainer_config(["training.tf32=maybe"]))
    cfg = TrainerConfig()
    cfg.training.tf32 = "yes"
    with pytest.raises(ConfigError, match="training.tf32='yes': expected true or false"):
        validate_trainer_config(cfg)


def test_set_tf32_switches_matmuls_and_false_restores_pytorchs_defaults(pytorch_defaults):
    assert not tf32_matmul() and _cudnn_conv_tf32()  # PyTorch's defaults: matmuls float32, convolutions TF32
    set_tf32(True)
    assert tf32_matmul() and _cudnn_conv_tf32()
    set_tf32(False)
    assert not tf32_matmul() and _cudnn_conv_tf32()


def test_on_cpu_it_is_one_log_line_and_changes_nothing(caplog, pytorch_defaults):
    with caplog.at_level(logging.INFO, logger="diamond_wm.runtime.precision"):
        apply_tf32(False, "cpu")
        assert not caplog.records
        apply_tf32(True, "cpu")
    assert [r.getMessage() for r in caplog.records] == [
        "training.tf32=true has no effect on cpu: TF32 is a CUDA GPU's (the run computes in float32)"
    ]
    assert not tf32_matmul()


@needs_ampere
def test_on_cuda_float32_matmuls_run_in_tf32_only_when_asked(pytorch_defaults):
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(512, 512, generator=gen), torch.randn(512, 512, generator=gen)
    exact = a.double() @ b.double()

    def error() -> float:
        out = (a.cuda() @ b.cuda()).cpu().double()
        return float((out - exact).abs().max() / exact.abs().max())

    apply_tf32(False, "cuda")
    assert not tf32_matmul() and _cudnn_conv_tf32()
    ieee = error()
    apply_tf32(True, "cuda")
    assert tf32_matmul() and _cudnn_conv_tf32()
    tf32 = error()
    assert ieee < 1e-5 < tf32  # TF32 keeps 10 mantissa bits: errors ~1e-3 rather than ~1e-7


@pytest.mark.slow
def test_resuming_under_another_tf32_setting_says_so_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    res, lines = resume_changed(tmp_path, run_dir, "tf32: false", "tf32: true")
    assert len(lines) == 1 and lines[0].endswith("training.tf32 False -> True"), res.stderr[-2000:]
    assert sum("training.tf32=true has no effect on cpu" in line for line in res.stderr.splitlines()) == 1
    assert final_state(run_dir)["numerics"]["tf32"] is True
