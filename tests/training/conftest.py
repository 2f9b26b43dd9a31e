"""Fixtures of the training tests."""

from __future__ import annotations

import pytest

from diamond_wm.training import build


@pytest.fixture
def no_real_env(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a static-dataset run built a real environment")

    import diamond_wm.envs.factory
    import diamond_wm.training.data_source

    for module in (diamond_wm.training.data_source, build, diamond_wm.envs.factory):
        monkeypatch.setattr(module, "make_env", refuse)
