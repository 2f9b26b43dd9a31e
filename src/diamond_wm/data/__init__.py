"""Episodes, datasets (published folder layout), segment sampling and the batches handed to the models.

The names below are imported on first use (PEP 562): importing one module of the package, e.g. `data.batch` (the
one the models import), does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from diamond_wm.data.batch import Batch
    from diamond_wm.data.dataset import EpisodeDataset
    from diamond_wm.data.episode import Episode
    from diamond_wm.data.errors import DatasetError, EpisodeFileError, IndexFileError, ReadOnlyDatasetError
    from diamond_wm.data.frames import to_float_frames, to_uint8_frames
    from diamond_wm.data.published_layout import episode_relpath
    from diamond_wm.data.sampling import DEFAULT_SAMPLE_WEIGHTS, SegmentId, SegmentSampler, make_batch
    from diamond_wm.data.traverser import DatasetTraverser

_HOME = {
    "Batch": "batch",
    "DEFAULT_SAMPLE_WEIGHTS": "sampling",
    "DatasetError": "errors",
    "DatasetTraverser": "traverser",
    "Episode": "episode",
    "EpisodeDataset": "dataset",
    "EpisodeFileError": "errors",
    "IndexFileError": "errors",
    "ReadOnlyDatasetError": "errors",
    "SegmentId": "sampling",
    "SegmentSampler": "sampling",
    "episode_relpath": "published_layout",
    "make_batch": "sampling",
    "to_float_frames": "frames",
    "to_uint8_frames": "frames",
}

__all__ = [
    "Batch",
    "DEFAULT_SAMPLE_WEIGHTS",
    "DatasetError",
    "DatasetTraverser",
    "Episode",
    "EpisodeDataset",
    "EpisodeFileError",
    "IndexFileError",
    "ReadOnlyDatasetError",
    "SegmentId",
    "SegmentSampler",
    "episode_relpath",
    "make_batch",
    "to_float_frames",
    "to_uint8_frames",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_HOME[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_HOME))
