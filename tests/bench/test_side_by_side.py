"""`python -m diamond_wm.bench.side_by_side`: modes of a workload in alternating rounds (no timing assertions)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from diamond_wm.bench.side_by_side import parse_mode, side_by_side
from tests.conftest import cli_env


def test_modes_parse_into_bench_settings():
    off = {"compile": False, "freeze": False, "channels_last": False}
    assert parse_mode("fp32") == {"precision": "fp32", **off}
    assert parse_mode("bf16+compile+freeze") == {"precision": "bf16", **off, "compile": True, "freeze": True}
    assert parse_mode("bf16+cl") == {"precision": "bf16", **off, "channels_last": True}


@pytest.mark.parametrize(
    ("mode", "fragment"),
    [("fp16", "bad mode 'fp16'"), ("bf16+fast", "bad mode 'bf16+fast'"), ("fp32+freeze", "needs +compile")],
)
def test_bad_modes_are_named(mode, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        parse_mode(mode)


def test_every_mode_gets_rounds_times_calls_timings():
    times = side_by_side("wm_step", ["fp32", "bf16"], rounds=2, calls=2, warmup=1, tiny=True)
    assert list(times) == ["fp32", "bf16"]
    assert all(len(t) == 4 and all(s > 0 for s in t) for t in times.values())


def test_module_entry_point_prints_the_table_and_writes_json(tmp_path):
    out = tmp_path / "modes.json"
    cmd = [sys.executable, "-m", "diamond_wm.bench.side_by_side", "play_step", "--tiny", "--threads", "1"]
    cmd += ["--modes", "fp32", "bf16", "--rounds", "2", "--calls", "1", "--json", str(out)]
    res = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "play_step: 2 calls per mode" in res.stdout and "1.00x" in res.stdout
    assert {k: len(v) for k, v in json.loads(out.read_text()).items()} == {"fp32": 2, "bf16": 2}
    bad = subprocess.run(cmd[:-2] + ["--modes", "fp16"], env=cli_env(), capture_output=True, text=True)
    assert bad.returncode == 2 and "bad mode 'fp16'" in bad.stderr
