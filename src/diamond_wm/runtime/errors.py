"""The error of a configuration value that cannot be used, raised as far down as the runtime (a device spec);
`diamond_wm.config.errors` re-exports it, so that the runtime imports nothing of the configuration."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A configuration value or override that cannot be used."""

    def __init__(self, key: str, value: Any, accepted: str) -> None:
        self.key, self.value, self.accepted = key, value, accepted
        super().__init__(f"invalid config: {key}={value!r}: expected {accepted}")
