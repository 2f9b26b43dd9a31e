"""Disk-backed training batches through a PyTorch DataLoader: worker processes read the episode files.

`training.cache_in_ram=false` with `training.num_workers_data_loaders` > 0 (the published CS:GO setting: 4 workers,
nothing cached). The segments are drawn in the training process by the same `SegmentSampler` (same generator, same
distribution) and only read in the workers, so a seeded run draws the same segments with or without workers, and
the run state (the generator) resumes exactly. Each training phase asks for exactly the batches it will use
(`prepare(n)`): nothing is drawn ahead and lost. Memory stays flat whatever the dataset size: a worker reads the
steps of each segment only (`EpisodeDataset.load_steps`), and keeps nothing but where each file's fields lie. The
workers hand over batches with uint8 frames, converted to floats on the training device (`batch_to_float`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Optional

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from diamond_wm.data.batch import Batch
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, SegmentSampler, batch_to_float, gather_segments, make_batch


class _SegmentReader(Dataset):
    """Reads the batch of a list of segment ids from the dataset's files (opened once per worker process)."""

    def __init__(self, directory: Path, full_res: Optional[Any]) -> None:
        self.directory = directory
        self.full_res = full_res  # a full-resolution dataset's folder, or hdf5 frames (opened per worker)
        self._datasets: Optional[tuple[EpisodeDataset, Optional[Any]]] = None

    def _open(self) -> tuple[EpisodeDataset, Optional[Any]]:
        if self._datasets is None:  # in the worker: its own read-only view of the files, nothing cached
            # quiet: the workers start again at every phase, and the training process logged the dataset
            open_ = lambda d: EpisodeDataset(d, cache_in_ram=False, read_only=True, quiet=True)  # noqa: E731
            full = open_(self.full_res) if isinstance(self.full_res, Path) else self.full_res
            self._datasets = (open_(self.directory), full)
        return self._datasets

    def __len__(self) -> int:  # a map-style dataset indexed by lists of segment ids (see `_Plan`)
        return 0

    def __getitem__(self, segment_ids: list[SegmentId]) -> Batch:
        dataset, full_res = self._open()
        return gather_segments(
            dataset, segment_ids, full_res_dataset=full_res
        )  # uint8 frames: 4x less to pass


class _Plan(Sampler):
    """The segment ids of the batches of one phase, drawn when the phase starts (in the training process)."""

    def __init__(self, batches: Sequence[list[SegmentId]]) -> None:
        self.batches = list(batches)

    def __iter__(self) -> Iterator[list[SegmentId]]:
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


class SegmentLoader:
    """A batch source over `sampler`'s segments, read by `num_workers` DataLoader workers from the files.

    Call `prepare(n)` before a phase of n batches (the update loop does), then `loader()` n times. Without a
    prepared phase, one batch is drawn and read in the calling process.
    """

    def __init__(
        self,
        sampler: SegmentSampler,
        num_workers: int,
        device: torch.device | str = "cpu",
        full_res_dataset: Optional[EpisodeDataset] = None,
        prefetch_factor: int = 2,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 1:
            raise ValueError(f"num_workers must be an integer >= 1, got {num_workers!r}")
        if sampler.dataset.directory is None:
            raise ValueError(
                "a disk-backed loader needs a dataset with a directory (cache_in_ram datasets have none)"
            )
        self.sampler = sampler
        self.num_workers = num_workers
        self.device = torch.device(device)
        self.full_res_dataset = full_res_dataset
        self.prefetch_factor = prefetch_factor
        self._batches: Optional[Iterator[Batch]] = None
        self._left = 0

    def prepare(self, num_batches: int) -> None:
        """Draw the segment ids of the next `num_batches` batches and start the workers reading them."""
        self.close()
        if num_batches < 1:
            return
        plan = _Plan([self.sampler.sample_ids() for _ in range(num_batches)])
        full = self.full_res_dataset
        reader = _SegmentReader(
            self.sampler.dataset.directory, full.directory if isinstance(full, EpisodeDataset) else full
        )
        loader = DataLoader(
            reader,
            sampler=plan,
            batch_size=None,  # the reader builds whole batches
            num_workers=min(self.num_workers, num_batches),
            pin_memory=self.device.type == "cuda",
            prefetch_factor=self.prefetch_factor,
            multiprocessing_context="spawn" if torch.cuda.is_initialized() else None,
            # The workers' base seed from a generator of its own: not from torch's global one, whose draws (the
            # training noise) must stay those of the in-process path.
            generator=torch.Generator().manual_seed(0),
        )
        self._batches = iter(loader)
        self._left = num_batches

    def __call__(self) -> Batch:
        if self._batches is None or self._left == 0:
            ids = self.sampler.sample_ids()
            return make_batch(self.sampler.dataset, ids, self.device, full_res_dataset=self.full_res_dataset)
        self._left -= 1
        batch = next(self._batches)
        if self._left == 0:
            self._batches = None  # the workers exit
        return batch_to_float(batch, self.device)  # on the device: the frames travel as uint8

    def close(self) -> None:
        """Stop the workers of an unfinished phase (its remaining segment ids are not used)."""
        self._batches = None
        self._left = 0
