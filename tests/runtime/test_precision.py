"""`runtime.precision`: the precisions a run can ask for, the error naming what cannot be used, the default precision
of a device from what its hardware computes natively, and the warning when bf16 is forced where it is emulated."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest
import torch

from diamond_wm.runtime import cpu
from diamond_wm.runtime.precision import (
    autocast,
    bf16_is_native,
    check_precision,
    default_precision,
    warn_if_emulated,
)


def test_fp32_is_no_autocast_and_bf16_is_autocast_on_cpu():
    with autocast("cpu", "fp32"):
        assert not torch.is_autocast_enabled("cpu")
    with autocast(torch.device("cpu"), "bf16"):
        assert torch.is_autocast_enabled("cpu")
        assert torch.get_autocast_dtype("cpu") == torch.bfloat16
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


@pytest.mark.parametrize(
    ("precision", "device", "fragment"),
    [
        ("fp16", "cpu", "precision must be one of fp32, bf16, got 'fp16'"),
        ("bf16", "meta", "precision bf16 needs a cpu or cuda device, got 'meta'"),
    ],
)
def test_unusable_precision_names_the_value(precision, device, fragment):
    with pytest.raises(ValueError, match=fragment):
        check_precision(precision, device)


@pytest.fixture
def emulating_cpu(monkeypatch):
    """A CPU without native bf16 (AVX2 only, as most laptops)."""
    monkeypatch.setattr(cpu, "cpu_has_native_bf16", lambda: False)


@pytest.fixture
def native_cpu(monkeypatch):
    monkeypatch.setattr(cpu, "cpu_has_native_bf16", lambda: True)


def _warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


def test_a_cpu_without_native_bf16_defaults_to_fp32_and_forcing_bf16_warns_once(emulating_cpu, caplog):
    assert not bf16_is_native("cpu")
    assert default_precision("cpu") == "fp32"
    with caplog.at_level(logging.WARNING):
        assert warn_if_emulated("bf16", torch.device("cpu"))
    (line,) = _warnings(caplog)
    assert "precision bf16 is emulated" in line and "use precision fp32" in line
    assert f"kernels {cpu.cpu_capability()}" in line


def test_a_cpu_with_native_bf16_defaults_to_bf16_without_warning(native_cpu, caplog):
    assert default_precision("cpu") == "bf16"
    with caplog.at_level(logging.WARNING):
        assert not warn_if_emulated("bf16", "cpu")
    assert _warnings(caplog) == []


def test_fp32_never_warns_and_devices_without_bf16_autocast_default_to_fp32(emulating_cpu, caplog):
    with caplog.at_level(logging.WARNING):
        assert not warn_if_emulated("fp32", "cpu")
        assert not warn_if_emulated("fp32", "meta")
    assert _warnings(caplog) == []
    assert default_precision("mps") == "fp32"
    assert default_precision("meta") == "fp32"


@pytest.mark.parametrize(("major", "expected"), [(7, "fp32"), (8, "bf16"), (9, "bf16")])
def test_cuda_default_follows_the_compute_capability(monkeypatch, caplog, major, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda index: SimpleNamespace(major=major))
    monkeypatch.setattr(torch.version, "hip", None)
    assert default_precision("cuda:0") == expected
    with caplog.at_level(logging.WARNING):
        assert warn_if_emulated("bf16", "cuda:0") is (expected == "fp32")
    assert len(_warnings(caplog)) == (1 if expected == "fp32" else 0)


def test_cuda_without_a_gpu_is_not_native(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not bf16_is_native("cuda")


@pytest.mark.parametrize(
    ("probes", "flags", "native"),
    [
        ((False, False), {"avx2", "fma"}, False),  # AVX2 only: emulated
        ((False, False), {"avx512f", "avx512_bf16"}, True),  # the flags alone (a torch without the probes)
        ((False, False), {"fp", "asimd", "bf16"}, True),  # aarch64 BF16
        ((True, False), set(), True),  # torch's AVX-512 BF16 probe
        ((False, True), set(), True),  # torch's AMX probe
    ],
)
def test_native_bf16_from_torch_probes_or_cpu_flags(monkeypatch, probes, flags, native):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: probes[0], raising=False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: probes[1], raising=False)
    monkeypatch.setattr(cpu, "cpu_flags", lambda: frozenset(flags))
    assert cpu.cpu_has_native_bf16() is native
