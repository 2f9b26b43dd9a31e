"""Shared test fixtures: where the conformance data lives, and how to run the real CLI."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = REPO_ROOT.parent / "shared" / "reference"


@pytest.fixture
def reference_dir() -> Path:
    """`../shared/reference/` beside the checkout; tests that need it skip when it is absent."""
    if not REFERENCE_DIR.is_dir():
        pytest.skip(
            f"conformance data not found at {REFERENCE_DIR} (it lives in shared/ beside the checkout)"
        )
    return REFERENCE_DIR


def load_script(name: str):
    """The module of `scripts/NAME.py` (the repository's scripts are not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO_ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """Run `diamond ARGS` in a subprocess, as a user would (module entry point of the installed package)."""
    return subprocess.run(
        cli_command(*args), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def cli_command(*args: str) -> list[str]:
    """The argv of `diamond ARGS` through the installed package."""
    return [sys.executable, "-m", "diamond_wm.cli.main", *args]


def cli_env() -> dict[str, str]:
    """Environment of CLI subprocesses: headless SDL, one thread per process (tiny networks run fastest on one
    thread, and tests running side by side do not fight over the cores)."""
    return dict(
        os.environ,
        PYTHONUNBUFFERED="1",
        SDL_VIDEODRIVER="dummy",
        SDL_AUDIODRIVER="dummy",
        OMP_NUM_THREADS="1",
    )


@pytest.fixture
def restore_logging():
    """`main()` in-process adds its stderr handler to the root logger: remove it after the test."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        if h not in before:
            root.removeHandler(h)
    root.setLevel(level)


@pytest.fixture
def headless(monkeypatch):
    """pygame without a display or sound card, torch on one thread (fastest for the tiny test networks)."""
    from tests.play.tiny_run import one_thread

    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    with one_thread():
        yield
