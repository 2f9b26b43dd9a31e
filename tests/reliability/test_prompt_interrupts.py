"""Ctrl-C and Ctrl-D at the `diamond play --pretrained` game prompt: one line, exit 130 / 1, no traceback."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest

from diamond_wm.cli.main import main
from tests.conftest import cli_command, cli_env
from tests.reliability.conftest import one_line


@pytest.mark.parametrize(
    "raised, code, line",
    [
        (KeyboardInterrupt, 130, "diamond play: interrupted (no game chosen)"),
        (EOFError, 1, "diamond play: no game chosen (end of input)"),
    ],
)
def test_prompt_interrupted_in_process(raised, code, line, monkeypatch, capsys):
    def interrupted(prompt=""):
        raise raised()

    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    monkeypatch.setattr("builtins.input", interrupted)
    assert main(["-q", "play", "--pretrained"]) == code
    captured = capsys.readouterr()
    assert one_line(captured.err) == line
    assert "Breakout" in captured.out  # the list of games was shown


def _read_until(fd: int, text: bytes, timeout: float = 60) -> bytes:
    """Read the terminal's output until `text` appears."""
    out, deadline = b"", time.monotonic() + timeout
    while text not in out:
        assert time.monotonic() < deadline, out
        if select.select([fd], [], [], 1)[0]:
            out += os.read(fd, 4096)
    return out


def _read_rest(fd: int) -> bytes:
    out = b""
    while select.select([fd], [], [], 0.2)[0]:
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child closed the terminal (Linux raises EIO)
            break
        if not chunk:
            break
        out += chunk
    return out


def interactive_signals() -> None:
    """In the child, as from an interactive shell: SIGINT neither ignored (a runner in the background ignores
    it) nor blocked (threads of earlier tests may leave it blocked in the mask the child inherits)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("key, code", [("ctrl-c", 130), ("ctrl-d", 1)])
def test_prompt_interrupted_on_a_terminal(key, code, tmp_path):
    """The real command on a pseudo-terminal (stdin, stdout and stderr), as a user at a terminal runs it."""
    import pty

    master, slave = pty.openpty()
    proc = subprocess.Popen(
        cli_command("-q", "play", "--pretrained"),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=cli_env(),
        cwd=tmp_path,
        preexec_fn=interactive_signals,
    )
    os.close(slave)
    try:
        out = _read_until(master, b"Enter a number")
        if key == "ctrl-d":
            os.write(master, b"\x04")  # end of input on an empty line
            proc.wait(timeout=60)
        else:
            # What the terminal sends on Ctrl-C. CPython's readline can miss a signal that lands between printing
            # the prompt and waiting for input (no human is that fast): wait a little, press again if needed.
            time.sleep(0.5)
            for _ in range(3):
                proc.send_signal(signal.SIGINT)
                try:
                    proc.wait(timeout=20)
                    break
                except subprocess.TimeoutExpired:
                    continue
            assert proc.poll() is not None, "Ctrl-C did not end the prompt"
        out += _read_rest(master)
    finally:
        proc.kill()
        os.close(master)
    text = out.decode(errors="replace").replace("\r", "")
    assert proc.returncode == code, text
    assert "Traceback" not in text
    last = text.strip().splitlines()[-1]
    expected = "interrupted (no game chosen)" if key == "ctrl-c" else "no game chosen (end of input)"
    assert last == f"diamond play: {expected}"
