from __future__ import annotations

import os

import pytest

from tests.play.tiny_run import one_thread, train_tiny_run


@pytest.fixture(scope="package")
def tiny_run(tmp_path_factory):
    """A finished tiny Catch run (agent checkpoints, train/test datasets, FINISHED)."""
    return train_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    """pygame without a display or sound card, torch on one thread."""
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    assert os.environ["SDL_VIDEODRIVER"] == "dummy"
    with one_thread():
        yield
