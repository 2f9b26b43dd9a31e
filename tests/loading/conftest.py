"""The loading tests share the play tests' fixtures: a finished tiny run, headless pygame, one thread."""

from tests.play.conftest import _headless, tiny_run  # noqa: F401
