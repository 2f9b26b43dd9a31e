"""pyproject.toml as setuptools reads it for `pip install -e .`: valid metadata, and no deprecation warning (each
one was printed three times by `make install`)."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_setuptools_reads_pyproject_without_warnings():
    pyprojecttoml = pytest.importorskip("setuptools.config.pyprojecttoml")
    from setuptools.dist import Distribution

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dist = Distribution()
        pyprojecttoml.apply_configuration(dist, str(PYPROJECT))
    assert [str(w.message).splitlines()[0] for w in caught] == []
    assert dist.metadata.name == "diamond-wm"
    assert dist.metadata.license_expression == "MIT"
