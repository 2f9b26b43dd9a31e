"""The evaluation tests share the play tests' fixtures: a finished tiny run, headless pygame, one thread."""

import pytest

from tests.play.conftest import _headless, tiny_run  # noqa: F401


@pytest.fixture(scope="package")
def drift_runs(tmp_path_factory):
    """A tiny expert dataset and tiny EDM and DDPM static runs on it (see tests/evaluation/drift_runs.py)."""
    from tests.evaluation.drift_runs import make_drift_runs

    return make_drift_runs(tmp_path_factory.mktemp("drift"))
