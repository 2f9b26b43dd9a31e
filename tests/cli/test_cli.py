"""The `diamond` command, run in a subprocess as a user would."""

from __future__ import annotations

import pytest
import yaml

from diamond_wm import __version__
from tests.conftest import run_cli


def test_help_lists_the_subcommands():
    res = run_cli("--help")
    assert res.returncode == 0
    for name in ("train", "play", "eval", "bench", "results"):
        assert name in res.stdout


def test_version():
    res = run_cli("--version")
    assert res.returncode == 0 and __version__ in res.stdout


@pytest.mark.parametrize("command", ["train", "play", "eval", "bench", "results"])
def test_each_subcommand_has_help(command):
    res = run_cli(command, "--help")
    assert res.returncode == 0
    assert "usage:" in res.stdout


def test_train_help_lists_its_options_without_importing_torch():
    """`diamond train --help` answers at once: neither torch nor Hydra is imported for it."""
    import subprocess
    import sys

    code = (
        "import sys; from diamond_wm.cli.main import main; main(['train', '--help']); "
        "print('IMPORTED', sorted(m for m in ('torch', 'hydra') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "IMPORTED []" in res.stdout
    for option in ("--resume", "--config-name", "--cfg", "--multirun", "--debug"):
        assert option in res.stdout


def test_debug_is_listed_and_accepted_after_the_subcommand():
    assert "--debug" in run_cli("--help").stdout
    assert run_cli("eval", "--help", "--debug").returncode == 0


def test_train_cfg_job_prints_composed_config(tmp_path):
    res = run_cli(
        "train", "--cfg", "job", "env.train.id=PongNoFrameskip-v4", "common.devices=cpu", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    cfg = yaml.safe_load(res.stdout)
    assert cfg["env"]["train"]["id"] == "PongNoFrameskip-v4"
    assert cfg["common"]["devices"] == "cpu"
    assert cfg["world_model_env"]["horizon"] == 15
    assert not (tmp_path / "outputs").exists()  # printing the config starts no run


@pytest.mark.parametrize(
    "override, fragment",
    [
        ("env.train.idd=PongNoFrameskip-v4", "unknown key 'env.train.idd'"),
        ("denoiser.training.batch_size=0", "denoiser.training.batch_size=0: expected an integer >= 1"),
        ("common.devices=gpu", "common.devices='gpu'"),
    ],
)
def test_train_bad_config_exits_nonzero_with_one_line(override, fragment, tmp_path):
    res = run_cli("train", "--cfg", "job", override, cwd=tmp_path)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert fragment in lines[0]
