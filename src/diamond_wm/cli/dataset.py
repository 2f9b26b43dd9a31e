"""`diamond dataset`: datasets from recorded play (the published CS:GO recordings, your own game's videos and
action logs), and what a dataset folder holds (`info`) or whether it is whole (`verify`)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from diamond_wm.cli import errors

MISSING_EXTRA = 1
VERIFY_FAILED = 1
CONVERSION_FAILED = 1

CSGO_DESCRIPTION = """Convert the published CS:GO recordings (Pearce & Zhu's dataset_dm_scraped_dust2: .tar files
hdf5_dm_july2021_<a>_to_<b>.tar of .hdf5 episodes, or a folder of .hdf5 files) into datasets in the published
layout:

  OUT/low_res/{train,test}   30x56 frames (bicubic with antialiasing on [-1, 1] floats, as the published
                             converter), 51-dim multi-hot actions, rewards and ends 0, info.original_file_id
                             naming the hdf5 file (<folder>/<file>, as the published loader keys it)
  OUT/full_res/{train,test}  with --full-res-copy: the 150x280 frames, same episode ids
  OUT/conversion.json        which file is which episode, the test split, the files that failed

Tars are read in place (nothing is extracted), one episode in memory at a time per worker. Interrupt it at any
time: a rerun skips the episodes already converted and never finds a half-written one. Episode ids follow the file
numbers, so the output is the same whatever --workers. A file that cannot be read is listed at the end (exit 1);
the others are converted.

Test split: the published test_split.txt by default (500 files, shipped with diamond-wm); --test-split FILE
(file names, one a line) or every:N (every N-th file by number) to change it.

Needs h5py: pip install 'diamond-wm[csgo]'."""

IMPORT_DESCRIPTION = """Import your own game: a folder of videos (mp4, mkv, avi, mov, webm, m4v), each with an
action log (CSV or JSONL, same stem) of one row per frame, or rows with times matched to the frames' times: the
action (an index or a name, or named keys and mouse values), optional reward and end columns. Row t's action is
taken on frame t; its reward is what that action earned; a row with end 1 is the episode's terminal frame (kept as
its final observation; its action is not used). Format and examples: docs/datasets.md.

Frames are decoded as RGB and resized to --size (bicubic with antialiasing), optionally also to --full-res-size (a
full-resolution copy for an upsampler); a --test-fraction of the episodes, spread evenly, are test episodes.
Output: OUT/low_res/{train,test} (and OUT/full_res/{train,test}) in the published layout, recording the action
spec. Every log is checked against its video before anything is written: a frame count or a time that does not
match, an unknown key name or an unreadable video stops the import with one line naming the file and the row.
Interrupt it at any time: a rerun resumes. A folder holding an import made with other settings is refused unless
--overwrite.

Needs PyAV: pip install 'diamond-wm[video]'."""

INFO_DESCRIPTION = """What the datasets of a folder hold: for each one (a dataset, train/ and test/, a converted
folder's low_res/ and full_res/, a run folder's dataset/), its episodes, steps and lengths, the frame size, the
action spec, and the reward and end counts. Reads the indexes and one episode of each dataset; writes nothing."""

VERIFY_DESCRIPTION = """Read every episode file of the datasets of a folder and check it against its index (its
length, the reward and end counts), the recorded action spec and the frame size, and that a full-resolution copy
has the episodes of its low-resolution twin. Each problem is one line naming the file; exit 1 if there is any."""


SPAWN_DESCRIPTION = """Spawn points for `diamond play --checkpoint CKPT --spawn OUT`: where the imagined episodes of a
world model start. Each OUT/<n>/ holds 4 consecutive steps of an episode (low_res.npy, act.npy) and the recorded
actions that followed (next_act.npy), in the published csgo/spawn layout; OUT/action_spec.json names the actions.
FULL_RES, for a world model with an upsampler (CS:GO-shaped), adds their full-resolution frames (full_res.npy): it
is what training read, a full-resolution dataset or the folder of the original CS:GO .hdf5 files. Without it, the
spawn points are for a world model without upsampler (e.g. 64x64 Atari-like frames, discrete actions)."""


def _workers_default() -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, 8))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "Make datasets from recorded play, and inspect them."
    sub = parser.add_subparsers(dest="dataset_command", metavar="{csgo,import,spawn,info,verify}")
    sub.required = True
    raw = argparse.RawDescriptionHelpFormatter

    p = sub.add_parser(
        "csgo",
        help="convert the published CS:GO recordings",
        description=CSGO_DESCRIPTION,
        formatter_class=raw,
    )
    p.add_argument(
        "input", type=Path, metavar="TARS_OR_HDF5_DIR", help="folder of .tar or .hdf5 files (or one .tar)"
    )
    p.add_argument(
        "out", type=Path, metavar="OUT", help="output folder (new, or an earlier conversion to resume)"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=_workers_default(),
        metavar="N",
        help="processes (default: the cores, at most 8)",
    )
    p.add_argument(
        "--test-split",
        default="published",
        metavar="FILE",
        help="file of test file names, 'published' (default) or every:N",
    )
    p.add_argument(
        "--full-res-copy", action="store_true", help="also write the full-resolution frames as datasets"
    )

    p = sub.add_parser(
        "import",
        help="import your own game's videos and action logs",
        description=IMPORT_DESCRIPTION,
        formatter_class=raw,
    )
    p.add_argument("videos", type=Path, metavar="VIDEO_DIR", help="folder of videos (searched recursively)")
    p.add_argument(
        "out", type=Path, metavar="OUT", help="output folder (new, or an earlier import to resume)"
    )
    p.add_argument(
        "--actions",
        required=True,
        metavar="FORMAT_OR_DIR",
        help="csv or jsonl (the log beside each video), or the folder of the logs",
    )
    p.add_argument(
        "--action-spec",
        required=True,
        metavar="SPEC",
        help='discrete:N, csgo, or a JSON file, e.g. {"kind": "discrete", "num_actions": 4, "names": ["NOOP", '
        '"FIRE", "RIGHT", "LEFT"]} (docs/datasets.md)',
    )
    p.add_argument("--size", default="64x64", metavar="HxW", help="frame size of the dataset (default 64x64)")
    p.add_argument(
        "--full-res-size", default=None, metavar="HxW", help="also write a full-resolution copy of this size"
    )
    p.add_argument(
        "--test-fraction",
        type=float,
        default=0.1,
        metavar="F",
        help="fraction of the episodes for testing (default 0.1)",
    )
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="replace what OUT holds when it was imported with other settings (sizes, spec, video folder)",
    )

    p = sub.add_parser(
        "spawn",
        help="spawn points for diamond play --spawn from a dataset",
        description=SPAWN_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "dataset", type=Path, metavar="DATASET", help="a low-resolution dataset, or one with train/ test/"
    )
    p.add_argument(
        "full_res",
        type=Path,
        nargs="?",
        default=None,
        metavar="FULL_RES",
        help="for a world model with an upsampler: its full-resolution frames, a full-resolution dataset or the "
        "folder of the original hdf5 files",
    )
    p.add_argument("out", type=Path, metavar="OUT", help="folder of the spawn points (OUT/<n>/)")
    p.add_argument("--count", type=int, default=10, help="number of spawn points (default 10)")
    p.add_argument("--split", choices=("train", "test"), default="test", help="episodes of (default test)")
    p.add_argument(
        "--replay-steps", type=int, default=100, help="recorded actions kept for replay (default 100)"
    )

    p = sub.add_parser(
        "info",
        help="episodes, steps, resolution, action spec and counts of a dataset folder",
        description=INFO_DESCRIPTION,
    )
    p.add_argument(
        "dir",
        type=Path,
        metavar="DIR",
        help="a dataset, a folder of datasets (train/, test/) or a converted folder",
    )

    p = sub.add_parser(
        "verify",
        help="read every episode file and check it against its index (exit 1 if any is bad)",
        description=VERIFY_DESCRIPTION,
    )
    p.add_argument(
        "dir", type=Path, metavar="DIR", help="a dataset, a folder of datasets or a converted folder"
    )


_errors = errors.CommandErrors("diamond dataset")


def run(args: argparse.Namespace) -> int:
    command = args.dataset_command
    if command == "csgo":
        return _csgo(args)
    if command == "import":
        return _import(args)
    if command == "spawn":
        return _spawn(args)
    from diamond_wm.datasets.info import describe, verify

    if command == "info":
        print("\n".join(describe(args.dir)))
        return 0
    result = verify(args.dir)
    for line in result.notes:
        print(f"note: {line}")
    for line in result.checked:
        print(f"checked {line}")
    for line in result.problems:
        print(f"diamond dataset verify: {line}", file=sys.stderr)
    if result.problems:
        return _errors.fail(
            f"{len(result.problems)} problem(s) in {args.dir} (listed above)", code=VERIFY_FAILED
        )
    print(f"{args.dir}: every episode file is readable and consistent with its index")
    return 0


@contextlib.contextmanager
def _resumable() -> Iterator[None]:
    """An interrupt says how to go on (`diamond dataset: interrupted (...)`, exit 130)."""
    try:
        yield
    except KeyboardInterrupt as e:
        raise KeyboardInterrupt("converted episodes are kept: run the same command again to resume") from e


def _csgo(args: argparse.Namespace) -> int:
    try:
        import h5py  # noqa: F401
    except ImportError as e:
        return _errors.fail(f"needs h5py ({e}): pip install 'diamond-wm[csgo]'", code=MISSING_EXTRA)
    from diamond_wm.conversion.csgo_convert import convert_csgo
    from diamond_wm.runtime.signals import handle_termination

    with handle_termination(), _resumable():
        summary = convert_csgo(
            args.input,
            args.out,
            workers=args.workers,
            test_split=args.test_split,
            full_res_copy=args.full_res_copy,
        )
    print("\n".join(summary.lines()), flush=True)
    if summary.failed:
        return _errors.fail(
            f"{len(summary.failed)} file(s) could not be converted (listed above)", code=CONVERSION_FAILED
        )
    return 0


def _import(args: argparse.Namespace) -> int:
    try:
        import av  # noqa: F401
    except ImportError as e:
        return _errors.fail(f"needs PyAV ({e}): pip install 'diamond-wm[video]'", code=MISSING_EXTRA)
    from diamond_wm.conversion.resize import parse_size
    from diamond_wm.datasets.video_import import import_videos, parse_action_spec
    from diamond_wm.runtime.signals import handle_termination

    size = parse_size(args.size, "--size")
    full = parse_size(args.full_res_size, "--full-res-size") if args.full_res_size else None
    with handle_termination(), _resumable():
        summary = import_videos(
            args.videos,
            args.out,
            actions=args.actions,
            action_spec=parse_action_spec(args.action_spec),
            size=size,
            full_res_size=full,
            test_fraction=args.test_fraction,
            overwrite=args.overwrite,
        )
    print("\n".join(summary.lines()), flush=True)
    return 0


def _spawn(args: argparse.Namespace) -> int:
    from diamond_wm.datasets.spawn_points import write_spawn_points

    try:
        written = write_spawn_points(
            args.dataset,
            args.full_res,
            args.out,
            count=args.count,
            replay_steps=args.replay_steps,
            split=args.split,
        )
    except ValueError as e:
        return _errors.fail(errors.one_line(e))
    print(
        f"wrote {len(written)} spawn points -> {args.out} (play: diamond play --checkpoint CKPT --spawn {args.out})"
    )
    return 0
