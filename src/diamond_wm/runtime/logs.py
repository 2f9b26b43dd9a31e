"""Logging set-up for the command line: the CLI picks the verbosity, library code only logs."""

from __future__ import annotations

import logging
import sys

FORMAT = "[%(asctime)s %(levelname)s %(name)s] %(message)s"


def setup_logging(verbosity: int = 0, quiet: bool = False) -> None:
    """INFO by default, DEBUG with -v, WARNING with -q. Idempotent."""
    level = logging.WARNING if quiet else logging.DEBUG if verbosity > 0 else logging.INFO
    root = logging.getLogger()
    root.setLevel(level)
    if not any(getattr(h, "_diamond", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, datefmt="%H:%M:%S"))
        handler._diamond = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    for noisy in ("PIL", "matplotlib", "urllib3", "filelock", "fsspec", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def add_file_handler(path) -> logging.Handler:
    """Also write the log to `path` (appending); returns the handler so the caller can remove it."""
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter(FORMAT, datefmt="%Y-%m-%d %H:%M:%S"))
    logging.getLogger().addHandler(handler)
    return handler
