from __future__ import annotations

from tests.play.conftest import _headless, tiny_run  # noqa: F401
