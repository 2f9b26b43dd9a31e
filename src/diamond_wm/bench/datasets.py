"""The data pipeline on the bench: converting CS:GO recordings, and reading training segments from disk.

`dataset_convert`: frames per second of `diamond dataset csgo` on synthetic CS:GO hdf5 episodes (the published
keys and shapes, 1000 frames each, in a tar), with 1 and 2 workers, each against h5py's plain read of the same
frames in the same run (`diamond_wm.conversion.measure`), and their ratio.

`segment_load`: batches per second read from a disk-backed dataset written in a temporary folder (synthetic
frames, episodes of 1000 steps, nothing cached in RAM): denoiser batches of 16 segments of 9 frames at 30x56 and
upsampler batches of 4 x 3 frames at 30x56 with their 150x280 frames, read in this process (0 workers) or by 1
and 2 DataLoader workers (`SegmentLoader`, as training reads them; the first batch, which waits for the workers
to start, is timed apart). Then the whole full-resolution dataset is streamed once in this process, batch after
batch, and the growth of the resident memory along it is reported: nothing is cached, so it stays flat whatever
the dataset's size.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from diamond_wm.bench.timing import peak_rss_bytes
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.data.loader import SegmentLoader
from diamond_wm.data.sampling import SegmentId, SegmentSampler, make_batch

log = logging.getLogger(__name__)

DATASET_NAMES = ("dataset_convert", "segment_load")
CONVERT_WORKERS = (1, 2)
LOAD_WORKERS = (0, 1, 2)
LOW_RES, FULL_RES = (3, 30, 56), (3, 150, 280)
# (batch size, frames per segment, with full-resolution frames): training's CS:GO batches
LOADS = {"denoiser": (16, 9, False), "upsampler": (4, 3, True)}


def _sizes(tiny: bool) -> dict[str, int]:
    """Episodes and frames of the inputs, batches timed per measurement."""
    if tiny:
        return {
            "convert_episodes": 2,
            "convert_frames": 8,
            "load_episodes": 2,
            "load_frames": 40,
            "batches": 4,
        }
    return {
        "convert_episodes": 4,
        "convert_frames": 1000,
        "load_episodes": 6,
        "load_frames": 1000,
        "batches": 200,
    }


def dataset_convert(tiny: bool, work: Path) -> dict[str, Any]:
    """`dataset_convert_*` results: the conversion and raw read rates for each worker count."""
    from diamond_wm.conversion.measure import make_csgo_input, measure_csgo_conversion, read_raw

    n = _sizes(tiny)
    start = time.perf_counter()
    tars = make_csgo_input(work / "csgo_in", n["convert_episodes"], n["convert_frames"])
    log.info("dataset_convert: input written in %.1f s", time.perf_counter() - start)
    out: dict[str, Any] = {"dataset_convert_frames": n["convert_episodes"] * n["convert_frames"]}
    frames, seconds = read_raw(tars, low_level=True)  # for the record: the conversion reads frames this way
    out["dataset_convert_read_low_level_fps"] = frames / seconds
    for workers in CONVERT_WORKERS:
        rate = measure_csgo_conversion(tars, work / "csgo_out", workers=workers)
        out[f"dataset_convert_w{workers}_fps"] = rate.convert_fps
        out[f"dataset_convert_w{workers}_read_fps"] = rate.read_fps
        out[f"dataset_convert_w{workers}_ratio"] = rate.ratio
        if workers > 1:  # the pool's start-up, measured apart (it weighs on a few episodes, not on thousands)
            startup = pool_startup_seconds(workers)
            out[f"dataset_convert_w{workers}_startup_s"] = startup
            busy = rate.convert_seconds - startup
            out[f"dataset_convert_w{workers}_fps_after_startup"] = rate.frames / busy if busy > 0 else 0.0
        log.info(
            "dataset_convert, %d worker(s): %.0f frames/s, raw read %.0f frames/s (%.2fx)",
            workers, rate.convert_fps, rate.read_fps, rate.ratio,
        )  # fmt: skip
    return out


def _started(_: int) -> int:
    return 0


def pool_startup_seconds(workers: int) -> float:
    """Seconds to start `workers` spawned processes as the conversion starts its pool (each imports torch and
    this package) and hear from each: what a conversion with that many workers pays before its first frame."""
    from diamond_wm.conversion.csgo_convert import _init_worker

    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_init_worker) as pool:
        pool.map(_started, range(workers), chunksize=1)
    return time.perf_counter() - start


def write_load_datasets(root: Path, episodes: int, frames: int, seed: int = 0) -> tuple[Path, Path]:
    """Low- and full-resolution datasets of the same `episodes` synthetic episodes (random frames, 51-dim float
    actions), in the published layout; returns their folders."""
    g = torch.Generator().manual_seed(seed)
    folders = root / "low_res", root / "full_res"
    for folder, shape in zip(folders, (LOW_RES, FULL_RES), strict=True):
        ds = EpisodeDataset(folder, cache_in_ram=False, autosave_index=False)  # memory flat: any size
        for _ in range(episodes):
            obs = torch.randint(0, 256, (frames, *shape), dtype=torch.uint8, generator=g)
            act = (torch.rand(frames, 51, generator=g) < 0.1).float()
            flags = torch.zeros(frames, dtype=torch.uint8)
            ds.add_episode(Episode(obs, act, torch.zeros(frames), flags, flags.clone()))
            del obs
        ds.close()
    return folders


def _rate(next_batch: Callable[[], Any], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        next_batch()
    return count / (time.perf_counter() - start)


def current_rss_bytes() -> int:
    """Resident memory of this process now (Linux: /proc/self/statm; elsewhere its peak so far)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except (OSError, IndexError, ValueError):
        return peak_rss_bytes()


def children_rss_bytes() -> int:
    """Resident memory of this process's child processes now, summed (Linux; 0 elsewhere)."""
    total = 0
    for children in Path("/proc/self/task").glob("*/children"):
        try:
            pids = children.read_text().split()
        except OSError:
            continue
        for pid in pids:
            with contextlib.suppress(OSError, IndexError, ValueError):  # a worker that just exited
                total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * resource.getpagesize()
    return total


def stream_rss(low: EpisodeDataset, full: EpisodeDataset) -> dict[str, Any]:
    """Read every step of the datasets once, as upsampler batches of 4 x 3 steps in order, in this process; the
    resident memory after the first tenth of the batches and its largest value after that."""
    ids = [
        SegmentId(e, s, s + 3) for e in range(low.num_episodes) for s in range(0, int(low.lengths[e]) - 2, 3)
    ]
    batches = [ids[i : i + 4] for i in range(0, len(ids) - 3, 4)]
    base = largest = 0
    for i, segment_ids in enumerate(batches):
        make_batch(low, segment_ids, full_res_dataset=full)
        if i == len(batches) // 10:
            base = current_rss_bytes()
        elif i > len(batches) // 10:
            largest = max(largest, current_rss_bytes())
    streamed = sum(f.stat().st_size for ds in (low, full) for f in ds.directory.rglob("*.pt"))
    return {
        "segment_load_stream_bytes": streamed,
        "segment_load_stream_rss_start_bytes": base,
        "segment_load_stream_rss_max_bytes": max(largest, base),
        "segment_load_stream_rss_growth": max(largest, base) / base - 1 if base else 0.0,
    }


def segment_load(tiny: bool, work: Path, seed: int = 0) -> dict[str, Any]:
    """`segment_load_*` results: batches per second for each kind and worker count, RSS, the streaming RSS."""
    n = _sizes(tiny)
    start = time.perf_counter()
    # Written by a process of its own: this one (whose memory the DataLoader workers start from) stays small.
    args = (work / "load", n["load_episodes"], n["load_frames"], seed)
    writer = multiprocessing.get_context("spawn").Process(target=write_load_datasets, args=args)
    writer.start()
    writer.join()
    if writer.exitcode != 0:
        raise RuntimeError(f"writing the segment_load datasets in {work / 'load'} failed ({writer.exitcode})")
    low_dir, full_dir = work / "load" / "low_res", work / "load" / "full_res"
    log.info("segment_load: datasets written in %.1f s", time.perf_counter() - start)
    low = EpisodeDataset(low_dir, cache_in_ram=False, read_only=True)
    full = EpisodeDataset(full_dir, cache_in_ram=False, read_only=True)
    out: dict[str, Any] = {
        "segment_load_episodes": low.num_episodes,
        "segment_load_episode_steps": n["load_frames"],
        "segment_load_batches": n["batches"],
    }
    for kind, (batch, steps, with_full) in LOADS.items():
        for workers in LOAD_WORKERS:
            g = torch.Generator().manual_seed(seed)
            sampler = SegmentSampler(low, batch, steps, None, generator=g)
            full_res = full if with_full else None
            key = f"segment_load_{kind}_w{workers}"
            if workers == 0:
                read = lambda: make_batch(low, sampler.sample_ids(), full_res_dataset=full_res)  # noqa: B023,E731
                read()  # the first reads open the files
                out[f"{key}_batches_per_s"] = _rate(read, n["batches"])
            else:
                loader = SegmentLoader(sampler, workers, full_res_dataset=full_res)
                loader.prepare(n["batches"] + 1)
                t0 = time.perf_counter()
                loader()  # waits for the workers to start
                out[f"{key}_startup_s"] = time.perf_counter() - t0
                out[f"{key}_batches_per_s"] = _rate(loader, n["batches"] - 1)
                out[f"{key}_workers_rss_bytes"] = children_rss_bytes()  # the workers are still there
                loader()
                loader.close()
            log.info(
                "segment_load %s, %d worker(s): %.0f batches/s", kind, workers, out[f"{key}_batches_per_s"]
            )
    out |= stream_rss(low, full)
    out["segment_load_peak_rss_bytes"] = peak_rss_bytes()
    return out


def run_dataset_workloads(names: list[str], tiny: bool, seed: int = 0) -> dict[str, Any]:
    """The results of the named dataset workloads (inputs written in a temporary folder, removed after)."""
    results: dict[str, Any] = {}
    if "dataset_convert" in names:
        try:
            import h5py  # noqa: F401
        except ImportError:
            log.warning("dataset_convert skipped: it needs h5py: pip install 'diamond-wm[csgo]'")
            names = [name for name in names if name != "dataset_convert"]
    with tempfile.TemporaryDirectory(prefix="diamond-bench-") as tmp:
        if "dataset_convert" in names:
            results |= dataset_convert(tiny, Path(tmp))
        if "segment_load" in names:
            results |= segment_load(tiny, Path(tmp), seed)
    return results
