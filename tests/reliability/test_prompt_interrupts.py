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
        # As from an interactive shell: SIGINT not ignored (a runner in the background may ignore it).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    os.close(slave)
    try:
        out = _read_until(master, b"Enter a number")
        if key == "ctrl-d":
            os.write(master, b"\x04")  # end of input on an empty line
        else:
            proc.send_signal(signal.SIGINT)  # what the terminal sends on Ctrl-C
        proc.wait(timeout=60)
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
