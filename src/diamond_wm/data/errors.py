"""Exceptions of the data layer: every one names the file or the value at fault."""

from __future__ import annotations

from pathlib import Path


class DatasetError(Exception):
    """Base class of the errors raised while reading or writing a dataset folder."""


class EpisodeFileError(DatasetError):
    """An episode file is missing, truncated, corrupted, or does not hold a valid episode.

    `path` is the file at fault; the message says what is wrong with it.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"episode file {self.path}: {reason}")


class IndexFileError(DatasetError):
    """The index of a dataset folder (`info.pt`) is unreadable or inconsistent with itself.

    `path` is the index file; the message says what is wrong and how to rebuild it from the episode files.
    """

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(
            f"dataset index {self.path}: {reason} "
            "(move it away: the index is then rebuilt from the episode files)"
        )


class ReadOnlyDatasetError(DatasetError):
    """A write was attempted on a dataset opened read-only (e.g. a static dataset)."""
