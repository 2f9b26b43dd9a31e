from __future__ import annotations

import logging

import pytest
import torch

from diamond_wm.config.errors import ConfigError
from diamond_wm.runtime.devices import parse_devices, resolve_devices


@pytest.mark.parametrize(
    "spec, names",
    [
        (None, ["auto"]),
        (0, ["cuda:0"]),
        ("1", ["cuda:1"]),
        ([0, 2], ["cuda:0", "cuda:2"]),
        ("cpu", ["cpu"]),
        ("MPS", ["mps"]),
        ("cuda", ["cuda:0"]),
        ("cuda:3", ["cuda:3"]),
        ("all", ["all"]),
    ],
)
def test_parse_devices(spec, names):
    assert parse_devices(spec) == names


@pytest.mark.parametrize("spec", ["gpu", -1, [], [0, "a"], True, 1.5, "cuda:x"])
def test_parse_devices_rejects(spec):
    with pytest.raises(ConfigError, match="common.devices"):
        parse_devices(spec)


def test_default_prefers_cuda_then_mps_then_cpu(caplog):
    caplog.set_level(logging.INFO)
    assert resolve_devices(None, cuda_count=2, mps_available=True) == [torch.device("cuda:0")]
    assert resolve_devices(None, cuda_count=0, mps_available=True) == [torch.device("mps")]
    assert resolve_devices(None, cuda_count=0, mps_available=False) == [torch.device("cpu")]
    assert "device: cpu" in caplog.text


def test_all_means_every_gpu():
    assert resolve_devices("all", cuda_count=2, mps_available=False) == [
        torch.device("cuda:0"),
        torch.device("cuda:1"),
    ]
    assert resolve_devices("all", cuda_count=0, mps_available=False) == [torch.device("cpu")]


def test_asking_for_missing_cuda_is_an_error_not_a_cpu_run():
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        resolve_devices(0, cuda_count=0, mps_available=False)
    with pytest.raises(ConfigError, match="1 CUDA GPU"):
        resolve_devices([0, 1], cuda_count=1, mps_available=False)
    with pytest.raises(ConfigError, match="MPS is not available"):
        resolve_devices("mps", cuda_count=0, mps_available=False)


def test_this_machine():
    devices = resolve_devices("cpu")
    assert devices == [torch.device("cpu")]
