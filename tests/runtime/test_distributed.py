"""The process-group helpers: single-process no-ops, the device of each rank, the weights digest."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.runtime.distributed import (
    SINGLE,
    init_distributed,
    launched_by_torchrun,
    rank_device,
    to_cpu,
    weights_digest,
)


def test_without_torchrun_everything_is_a_single_process_no_op():
    env = {"PATH": "/bin"}
    assert not launched_by_torchrun(env)
    ctx = init_distributed([torch.device("cpu")], environ=env)
    assert ctx is SINGLE and ctx.is_main and not ctx.is_distributed
    ctx.barrier()
    assert ctx.broadcast_object({"a": 1}) == {"a": 1}
    assert ctx.gather_objects(3) == [3] and ctx.all_gather_objects(3) == [3]
    t = torch.tensor([2.0])
    assert ctx.mean_(t) is t and t.item() == 2.0
    # A world of one under torchrun needs no process group either.
    one = {"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}
    assert launched_by_torchrun(one) and init_distributed([torch.device("cpu")], environ=one) is SINGLE


def test_a_bad_torchrun_variable_is_one_clear_error():
    env = {"RANK": "x", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}
    with pytest.raises(ValueError, match=r"environment variable RANK='x': expected an integer"):
        init_distributed([torch.device("cpu")], environ=env)


def test_the_device_of_each_rank():
    cpu = [torch.device("cpu")]
    assert rank_device(cpu, 1, 2) == torch.device("cpu")
    gpus = [torch.device("cuda:2"), torch.device("cuda:5")]
    assert rank_device(gpus, 1, 2) == torch.device("cuda:5")  # the list's local_rank-th
    with pytest.raises(ValueError, match=r"common.devices=\[2,5\] names 2 GPUs for 3 processes"):
        rank_device(gpus, 0, 3)
    with pytest.raises(ValueError, match="one MPS device cannot be shared"):
        rank_device([torch.device("mps")], 0, 2)


def test_the_weights_digest_sees_any_bit():
    sd = {"w": torch.randn(4, 3), "b": torch.zeros(3, dtype=torch.bfloat16), "n": torch.tensor(7)}
    d = weights_digest(sd)
    assert d == weights_digest({k: v.clone() for k, v in sd.items()})
    flipped = dict(sd, w=sd["w"].clone())
    flipped["w"].view(-1).view(torch.int32)[5] ^= 1  # the last bit of one float
    assert weights_digest(flipped) != d
    swapped = dict(sd, w=sd["w"].flip(0))  # the same values elsewhere
    assert weights_digest(swapped) != d


def test_to_cpu_keeps_the_structure():
    obj = {"a": [torch.ones(1), (torch.zeros(2), 3)], "b": "x"}
    out = to_cpu(obj)
    assert isinstance(out["a"][1], tuple) and out["b"] == "x" and torch.equal(out["a"][0], torch.ones(1))
