"""SIGTERM closes the `diamond play` window cleanly (exit 0, no traceback); recorded episodes stay readable."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from diamond_wm.data.dataset import EpisodeDataset
from tests.conftest import cli_command, cli_env


def wait_for(path: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text():
        assert proc.poll() is None, path.read_text()[-3000:]
        assert time.monotonic() < deadline, path.read_text()[-3000:]
        time.sleep(0.2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_sigterm_closes_the_play_window(run_copy, tmp_path):
    log = tmp_path / "stderr.txt"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            cli_command("-v", "play", str(run_copy), "-r", "--size", "64", "--horizon", "2"),
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=cli_env(),  # SDL_VIDEODRIVER=dummy
            cwd=tmp_path,
        )
        try:
            wait_for(log, "window open", proc)
            wait_for(log, "] wm, policy: return", proc)  # an imagined episode ended (and was recorded)
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
        finally:
            proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text[-3000:]
    assert "terminated: closing the window" in text and "Traceback" not in text
    recorded = EpisodeDataset(run_copy / "dataset" / "rec_wm_policy", read_only=True)
    assert recorded.num_episodes >= 1
    for i in range(recorded.num_episodes):
        assert recorded.load_episode(i).is_finished
