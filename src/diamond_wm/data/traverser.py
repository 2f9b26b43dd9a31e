"""`DatasetTraverser`: every step of a (test) dataset once, in fixed-size chunks, in a deterministic order.

Episode after episode, each is cut into chunks [0, c), [c, 2c), ...; the last chunk of an episode is right-padded
(and dropped when it holds a single real step: nothing to predict from it). Chunks are grouped into batches of
`batch_size` segments; the last batch may be smaller.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Optional

from diamond_wm.data.batch import Batch
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, make_batch


class DatasetTraverser:
    """Deterministic pass over `dataset` in chunks of `chunk_size` steps, `batch_size` chunks per batch."""

    def __init__(
        self,
        dataset: EpisodeDataset,
        batch_size: int,
        chunk_size: int,
        full_res_dataset: Optional[EpisodeDataset] = None,
    ) -> None:
        for name, v in (("batch_size", batch_size), ("chunk_size", chunk_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        self.dataset = dataset
        self.batch_size = batch_size
        self.chunk_size = chunk_size
        self.full_res_dataset = (
            full_res_dataset  # the same episodes at full resolution (an upsampler's targets)
        )

    def segment_ids(self) -> list[SegmentId]:
        """Every chunk, in order."""
        c = self.chunk_size
        ids = []
        for episode_id, length in enumerate(self.dataset.lengths.tolist()):
            num_chunks = math.ceil(length / c)
            if length - (num_chunks - 1) * c < 2:  # the last chunk holds one real step only
                num_chunks -= 1
            ids += [SegmentId(episode_id, k * c, (k + 1) * c) for k in range(num_chunks)]
        return ids

    def __len__(self) -> int:
        return math.ceil(len(self.segment_ids()) / self.batch_size)

    def __iter__(self) -> Iterator[Batch]:
        ids = self.segment_ids()
        for i in range(0, len(ids), self.batch_size):
            yield make_batch(
                self.dataset, ids[i : i + self.batch_size], full_res_dataset=self.full_res_dataset
            )
