"""Fixtures of the CLI tests."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _restore_logging(restore_logging):
    """Every test here runs `main()` in-process: see tests/conftest.py's `restore_logging`."""
    yield
