"""Fixtures of the fault tests: a finished tiny run written under umask 022, headless pygame, one torch thread."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.play.tiny_run import one_thread, train_tiny_run


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
def headless(monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    with one_thread():
        yield


def one_line(text: str) -> str:
    """The only non-empty line of `text` (fails if there are several)."""
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    return lines[0]
