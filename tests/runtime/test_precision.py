"""`runtime.precision`: the precisions a run can ask for, and the error naming what cannot be used."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.runtime.precision import autocast, check_precision


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
