from __future__ import annotations

import pytest

from tests.play.tiny_run import train_tiny_run


@pytest.fixture(scope="package")
def tiny_run(tmp_path_factory):
    """A finished tiny Catch run (agent checkpoints, train/test datasets, FINISHED)."""
    return train_tiny_run(tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(autouse=True)
def _headless(headless):
    """Every test here runs pygame headless on one thread: see tests/conftest.py's `headless`."""
    yield
