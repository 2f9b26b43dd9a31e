"""Fixtures of the fault tests: a finished tiny run written under umask 022, headless pygame, one torch thread."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.play.tiny_run import train_tiny_run


@pytest.fixture(scope="package")
def tiny_run(tmp_path_factory) -> Path:
    """A finished tiny Catch run (checkpoints, train/test datasets, FINISHED), every file written under umask 022."""
    previous = os.umask(0o022)
    try:
        return train_tiny_run(tmp_path_factory.mktemp("run") / "run")
    finally:
        os.umask(previous)


@pytest.fixture
def run_copy(tiny_run, tmp_path) -> Path:
    """A copy of the tiny run that a test may damage."""
    return Path(shutil.copytree(tiny_run, tmp_path / "run"))


@pytest.fixture(autouse=True)
def _headless(headless):
    """Every test here runs pygame headless on one thread: see tests/conftest.py's `headless`."""
    yield


def one_line(text: str) -> str:
    """The only non-empty line of `text` (fails if there are several)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(autouse=True)
def _restore_logging(restore_logging):
    """Every test here runs `main()` in-process: see tests/conftest.py's `restore_logging`."""
    yield


@pytest.fixture
def tmpfs(tmp_path):
    """A 2 MiB tmpfs (root on Linux only; skipped elsewhere: the simulated tests cover the same errors).
    Yields a function `remount(options)`, e.g. remount("size=64m") or remount("ro"), and the mount point."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.strip()}")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True, capture_output=True)

    try:
        yield mnt, remount
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def error_lines(stderr: str) -> list[str]:
    """The lines of `stderr` that are not log records or progress output."""
    return [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("[")]
