"""Stream a disk-backed dataset larger than RAM once, and report the reading process's resident memory.

    python -m diamond_wm.bench.stream_large --dir /big/disk/tmp --episodes 200

writes `--episodes` synthetic CS:GO episodes of 1000 steps (30x56 frames and their 150x280 twins: 200 episodes are
26 GB), then reads every step once as upsampler batches (`segment_load`'s `stream_rss`) and prints the RSS after the
first tenth of the batches and its largest value after (nothing read is kept, so it should stay flat). The folder
is removed at the end unless `--keep`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from diamond_wm.bench.datasets import stream_rss, write_load_datasets
from diamond_wm.data.dataset import EpisodeDataset


def stream_large(directory: Path, episodes: int, frames: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Write the datasets under `directory` (kept), stream them once; the `stream_rss` keys plus timings."""
    start = time.perf_counter()
    low_dir, full_dir = write_load_datasets(directory, episodes, frames, seed)
    written = time.perf_counter() - start
    low = EpisodeDataset(low_dir, cache_in_ram=False, read_only=True)
    full = EpisodeDataset(full_dir, cache_in_ram=False, read_only=True)
    start = time.perf_counter()
    out = stream_rss(low, full)
    return out | {"episodes": episodes, "write_s": written, "stream_s": time.perf_counter() - start}


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diamond_wm.bench.stream_large", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: a temporary folder)")
    parser.add_argument(
        "--episodes", type=int, default=200, help="episodes of 1000 steps (default 200: 26 GB)"
    )
    parser.add_argument("--frames", type=int, default=1000, help=argparse.SUPPRESS)  # tests
    parser.add_argument("--keep", action="store_true", help="keep the written datasets")
    args = parser.parse_args(argv)
    if args.episodes < 1 or args.frames < 4:
        parser.error(f"--episodes must be >= 1 (got {args.episodes})")
    work = Path(tempfile.mkdtemp(prefix="diamond_stream_", dir=args.dir))
    try:
        out = stream_large(work, args.episodes, args.frames)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=1))
    gib = out["segment_load_stream_bytes"] / 2**30
    mib = 2**20
    print(
        f"streamed {gib:.1f} GiB of episode files in {out['stream_s']:.0f} s: RSS "
        f"{out['segment_load_stream_rss_start_bytes'] / mib:.0f} -> at most "
        f"{out['segment_load_stream_rss_max_bytes'] / mib:.0f} MiB ({out['segment_load_stream_rss_growth']:+.1%})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
