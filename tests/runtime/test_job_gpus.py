"""Sweep jobs running side by side each hold a GPU of their own (lock files in a temporary folder here)."""

from __future__ import annotations

import contextlib
import logging

import pytest
import torch

from diamond_wm.runtime.job_gpus import claimed_gpu, gpu_for_job, job_devices


def test_job_k_takes_gpu_k_mod_n_or_the_next_free_one():
    assert [gpu_for_job(k, 4) for k in range(6)] == [0, 1, 2, 3, 0, 1]
    assert gpu_for_job(2, 4, busy={2, 3}) == 0
    assert gpu_for_job(1, 2, busy={0, 1}) == 1  # every GPU busy: its own, shared
    assert gpu_for_job(3, 1) is None and gpu_for_job(3, 0) is None  # one GPU or none: the run's own choice


@pytest.mark.parametrize("job, gpus", [(-1, 2), (1.5, 2), (True, 2), (0, -1), (0, "2")])
def test_a_bad_job_number_or_gpu_count_is_refused_naming_it(job, gpus):
    with pytest.raises(ValueError, match=repr(job) if job != 0 else repr(gpus)):
        gpu_for_job(job, gpus)


def test_jobs_running_together_never_share_while_they_are_no_more_than_the_gpus(tmp_path):
    with contextlib.ExitStack() as stack:
        held = [stack.enter_context(claimed_gpu(k, 3, tmp_path)) for k in range(3)]
        assert sorted(held) == [0, 1, 2]
    # job 1 ended; job 2 (2 mod 2 = 0) starts while job 0 runs
    with claimed_gpu(0, 2, tmp_path) as first, claimed_gpu(2, 2, tmp_path) as third:
        assert (first, third) == (0, 1)
    with claimed_gpu(2, 2, tmp_path) as again:  # released at the end of its block
        assert again == 0


def test_more_jobs_than_gpus_share_and_say_so(tmp_path, caplog):
    with (
        claimed_gpu(0, 2, tmp_path),
        claimed_gpu(1, 2, tmp_path),
        caplog.at_level(logging.WARNING),
        claimed_gpu(3, 2, tmp_path) as shared,
    ):
        assert shared == 1
    assert "all 2 GPUs are held by other jobs: it shares GPU 1" in caplog.text


def test_fewer_than_two_gpus_change_nothing(tmp_path):
    with claimed_gpu(5, 1, tmp_path) as gpu:
        assert gpu is None
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("devices", ["cpu", 1, [0, 1], "all"])
def test_a_job_whose_devices_are_set_keeps_them(devices):
    with job_devices(devices, 3) as chosen:
        assert chosen == devices


def test_an_unset_device_becomes_a_gpu_only_on_a_machine_with_several():
    with job_devices(None, 3) as chosen:
        if torch.cuda.is_available() and torch.cuda.device_count() > 1:
            assert isinstance(chosen, int) and 0 <= chosen < torch.cuda.device_count()
        else:
            assert chosen is None  # the CPU path, or the one GPU, as before
