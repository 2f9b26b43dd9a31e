"""Errors of the real commands: one line on stderr, a non-zero exit code, nothing run that should not be."""

from __future__ import annotations

import os

from diamond_wm.cli.main import main
from tests.conftest import run_cli
from tests.reliability.conftest import one_line


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_checkpoint_through_eval_and_train(tmp_path):
    import torch

    marker = tmp_path / "ran"
    evil = tmp_path / "agent.pt"
    torch.save({"state_dict": {}, "x": Payload(marker)}, evil)
    expected = (
        f"refusing to load {evil}: it needs arbitrary unpickling (global {os.system.__module__}.system); "
        "only tensors and plain data are loaded"
    )
    res = run_cli("-q", "eval", str(evil), "--env-id", "diamond_wm/Catch-v0", cwd=tmp_path)
    assert res.returncode == 2 and one_line(res.stderr) == f"diamond eval: error: {expected}"
    res = run_cli(
        "-q",
        "train",
        "env=catch",
        "agent=tiny",
        "common.devices=cpu",
        f"initialization.path_to_ckpt={evil}",
        f"hydra.run.dir={tmp_path / 'run'}",
        cwd=tmp_path,
    )
    assert res.returncode == 2 and one_line(res.stderr) == f"diamond train: {expected}", res.stderr
    assert not marker.exists()


def test_config_errors_of_a_sweep_are_one_line(tmp_path, monkeypatch, capsys):
    # Every job is composed before any starts: a key that no job accepts is one line, as in a single run.
    monkeypatch.chdir(tmp_path)
    assert main(["-q", "train", "-m", "env.train.idd=a,b"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == "diamond train: invalid config: unknown key 'env.train.idd' (did you mean 'env.train.id'?)"
    assert not (tmp_path / "multirun").exists()
