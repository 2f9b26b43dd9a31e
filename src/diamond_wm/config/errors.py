"""One-line configuration errors that name the key, the bad value and what is accepted."""

from __future__ import annotations

import difflib
from typing import Any

# ConfigError is defined below the configuration, in the runtime: runtime.devices raises it
from diamond_wm.runtime.errors import ConfigError

__all__ = ["ConfigError", "UnknownKeyError", "flat_keys"]


class UnknownKeyError(ValueError):
    """An override naming a key that the configuration tree does not have."""

    def __init__(self, key: str, known: list[str]) -> None:
        self.key = key
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else " (see `diamond train --cfg job` for every key)"
        super().__init__(f"invalid config: unknown key '{key}'{hint}")


def flat_keys(node: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested mapping (config tree), leaves and inner nodes alike."""
    keys: list[str] = []
    if hasattr(node, "items"):
        for k, v in node.items():
            full = f"{prefix}{k}"
            keys.append(full)
            keys.extend(flat_keys(v, full + "."))
    return keys
