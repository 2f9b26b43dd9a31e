"""`diamond train common.devices=all` (several GPUs): the torchrun command it runs for this machine."""

from __future__ import annotations

import logging
import sys

import torch

from diamond_wm.cli import distributed_launch
from diamond_wm.runtime.distributed import SINGLE
from diamond_wm.training.ranks import process_device


class _FakeProcess:
    def __init__(self, cmd):
        self.cmd = cmd

    def wait(self):
        return 0


def test_several_gpus_start_one_process_each_through_torchrun(monkeypatch):
    started = []
    monkeypatch.setattr(
        distributed_launch,
        "_devices",
        lambda spec, announce=True: [torch.device("cuda:0"), torch.device("cuda:1")],
    )
    monkeypatch.setattr(
        distributed_launch.subprocess, "Popen", lambda cmd: started.append(cmd) or _FakeProcess(cmd)
    )
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    code = distributed_launch.launch_if_several_devices(
        "all", ["train", "common.devices=all", "--no-progress"]
    )
    assert code == 0
    assert started == [
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc-per-node=2",
            "-m",
            "diamond_wm.cli",
            "train",
            "common.devices=all",
            "--no-progress",
        ]
    ]
    # Inside torchrun's processes, or with one device, nothing more is started.
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "0")
    assert distributed_launch.launch_if_several_devices("all", ["train"]) is None
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var)
    monkeypatch.setattr(distributed_launch, "_devices", lambda spec, announce=True: [torch.device("cpu")])
    assert distributed_launch.launch_if_several_devices("cpu", ["train"]) is None
    assert len(started) == 1


def test_a_single_process_run_logs_its_device_once(monkeypatch, caplog):
    for var in ("RANK", "WORLD_SIZE", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    caplog.set_level(logging.INFO)
    # What `diamond train` does: count the devices (one: no torchrun), then the trainer takes its device.
    assert distributed_launch.launch_if_several_devices("cpu", ["train"]) is None
    assert process_device("cpu", SINGLE) == torch.device("cpu")
    assert [r.getMessage() for r in caplog.records if r.getMessage().startswith("device:")] == ["device: cpu"]
