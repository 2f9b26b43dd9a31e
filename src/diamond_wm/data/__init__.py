"""Episodes, datasets (published folder layout), segment sampling and the batches handed to the models."""

from diamond_wm.data.batch import Batch
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import DatasetError, EpisodeFileError, IndexFileError, ReadOnlyDatasetError
from diamond_wm.data.frames import to_float_frames, to_uint8_frames
from diamond_wm.data.published_layout import episode_relpath
from diamond_wm.data.sampling import DEFAULT_SAMPLE_WEIGHTS, SegmentId, SegmentSampler, make_batch
from diamond_wm.data.traverser import DatasetTraverser

__all__ = [
    "DEFAULT_SAMPLE_WEIGHTS",
    "Batch",
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
