"""`diamond dataset csgo`: the published CS:GO recordings as datasets in the published layout.

Each hdf5 episode becomes one low-resolution episode (30x56 frames, the bytes the published converter made, see
`diamond_wm.conversion.resize`), with `act` the 51-dim float actions, `rew`/`end`/`trunc` all 0 as the published
converter writes them (a file is 1000 frames of a deathmatch, which a death does not end: the files' kill/death
flags, `frame_<i>_helperarr`, are not read) and
`info["original_file_id"]` naming the hdf5 file (`diamond_wm.conversion.csgo_hdf5`) and `info["original_first_frame"]`
0: training reads the upsampler's full-resolution frames back from the file (`diamond_wm.data.hdf5_full_res`).
`--full-res-copy` also keeps the full-resolution frames as a second dataset with the same episode ids. Output
(`diamond_wm.conversion.staging`): `OUT/low_res/{train,test}` (and `OUT/full_res/{train,test}`), each recording the
CS:GO action spec, plus `OUT/conversion.json`.

One episode is in memory at a time per worker; the frames are read and downsampled in chunks of `CHUNK_FRAMES`.
The output does not depend on the number of workers: episode ids follow the sorted order of the files, and every
file is the same bytes whichever process wrote it.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from tqdm import tqdm

from diamond_wm.conversion.csgo_hdf5 import count_frames, read_actions, read_bgr_frames
from diamond_wm.conversion.csgo_sources import Source, TestSplit, find_sources, load_test_split
from diamond_wm.conversion.interrupts import StopOnSignals
from diamond_wm.conversion.resize import resize_frames_published
from diamond_wm.conversion.staging import StagedOutput, plural, split_lines
from diamond_wm.data.episode import Episode
from diamond_wm.data.hdf5_full_res import ORIGINAL_FILE_ID, ORIGINAL_FIRST_FRAME
from diamond_wm.envs.csgo.actions import csgo_action_spec

log = logging.getLogger(__name__)

LOW_RES_SIZE = (30, 56)  # (H, W) of the published low-resolution dataset
CHUNK_FRAMES = 50  # frames read and resized at once (fastest here: the buffers stay in cache)
LOW_RES, FULL_RES = "low_res", "full_res"


def downsample(frames: torch.Tensor, size: tuple[int, int] = LOW_RES_SIZE) -> torch.Tensor:
    """uint8 (n, 3, 150, 280) -> uint8 (n, 3, 30, 56): the low-resolution frames, the bytes of the published
    converter (`diamond_wm.conversion.resize`: truncated, not rounded)."""
    return resize_frames_published(frames, size)


def convert_episode(
    h5: Any,
    original_file_id: str,
    *,
    name: Optional[str] = None,
    low_res_size: tuple[int, int] = LOW_RES_SIZE,
    full_res: bool = False,
) -> dict[str, Episode]:
    """One opened hdf5 episode -> {"low_res": Episode} (and "full_res" with `full_res`); ValueError naming
    `name` (default: the id) and the key at fault for a malformed file."""
    name = name or original_file_id
    n = count_frames(h5, name)
    act = read_actions(h5, 0, n, name)
    low = torch.empty((n, 3, *low_res_size), dtype=torch.uint8)
    full: Optional[torch.Tensor] = None
    for start in range(0, n, CHUNK_FRAMES):
        stop = min(n, start + CHUNK_FRAMES)
        bgr = torch.from_numpy(read_bgr_frames(h5, start, stop, name)).permute(
            0, 3, 1, 2
        )  # (c, 3, H, W) view
        if full_res:
            if full is None:
                full = torch.empty((n, *bgr.shape[1:]), dtype=torch.uint8)
            elif bgr.shape[1:] != full.shape[1:]:
                raise ValueError(
                    f"{name}: frame_{start}_x is {tuple(bgr.shape[2:])}, frame_0_x {tuple(full.shape[2:])}"
                )
            for c in range(3):
                full[start:stop, c] = bgr[:, 2 - c]  # BGR -> RGB
        # Channels are resized independently: flipping the small result is the same as flipping the frames.
        low[start:stop] = downsample(bgr, low_res_size).flip(1)
    zeros = torch.zeros(n)
    flags = torch.zeros(n, dtype=torch.uint8)
    info = {ORIGINAL_FILE_ID: original_file_id, ORIGINAL_FIRST_FRAME: 0}  # the whole file, from its frame 0
    out = {LOW_RES: Episode(low, act, zeros, flags, flags.clone(), dict(info))}
    if full is not None:
        out[FULL_RES] = Episode(full, act.clone(), zeros.clone(), flags.clone(), flags.clone(), dict(info))
    return out


@dataclass
class Outcome:
    """What became of one source: its length when converted, else the one-line reason."""

    key: str
    length: int = 0
    error: Optional[str] = None


def _convert_source(task: tuple[Source, StagedOutput]) -> Outcome:
    """Convert and stage one source. A source that cannot be read is an Outcome with its reason (the others go
    on); an output that cannot be written (a full disk) raises and stops the conversion."""
    source, staged = task
    try:
        with source.open() as h5:
            episodes = convert_episode(
                h5, source.file_id, name=source.describe(), full_res=FULL_RES in staged.parts
            )
    except (
        OSError,
        ValueError,
        KeyError,
        RuntimeError,
    ) as e:  # h5py raises OSError/KeyError for damaged files
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return Outcome(
            source.file_id, error=text if source.describe() in text else f"{source.describe()}: {text}"
        )
    staged.write(source.file_id, episodes, source.fingerprint)
    return Outcome(source.file_id, len(episodes[LOW_RES]))


def _init_worker() -> None:
    torch.set_num_threads(1)  # the workers are the parallelism
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent stops the pool


@dataclass
class ConversionSummary:
    """What `convert_csgo` did; `lines()` is the summary the command prints."""

    out: Path
    input_path: Path
    test_split: TestSplit
    workers: int
    full_res_copy: bool
    from_tars: bool
    num_sources: int = 0
    converted: int = 0
    frames_converted: int = 0
    already_done: int = 0
    failed: list[str] = field(default_factory=list)
    episodes: dict[str, int] = field(default_factory=dict)  # split -> episodes
    steps: dict[str, int] = field(default_factory=dict)  # split -> steps
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames_converted / self.seconds if self.seconds > 0 else 0.0

    def lines(self) -> list[str]:
        low = self.out / LOW_RES
        lines = [
            f"converted {plural(self.converted, 'episode')} ({plural(self.frames_converted, 'frame')}) in "
            f"{self.seconds:.1f} s ({self.frames_per_second:.0f} frames/s, {plural(self.workers, 'worker')}); "
            f"{self.already_done} already done, {len(self.failed)} failed, of {plural(self.num_sources, 'file')}",
        ]
        lines += split_lines(low, self.episodes, self.steps)
        lines.append(f"test split: {self.test_split.description}")
        if self.episodes.get("test", 0) == 0:
            lines.append("warning: no test episode (no test losses): give --test-split FILE or every:N")
        if self.full_res_copy:
            lines.append(f"full resolution: {self.out / FULL_RES}/{{train,test}} (same episode ids)")
            full = str(self.out / FULL_RES)
        elif self.from_tars:
            lines.append(
                "full resolution: read from the original hdf5 files during training: extract the tars, each into "
                "<a>-<b>/ (hdf5_dm_july2021_1_to_200.tar -> 1-200/), or rerun with --full-res-copy"
            )
            full = "EXTRACTED_HDF5_DIR"
        else:
            lines.append(
                f"full resolution: read from the original hdf5 files in {self.input_path} during training"
            )
            full = str(self.input_path)
        lines.append(
            f"train with: diamond train --config-name csgo env.path_data_low_res={low} env.path_data_full_res={full}"
        )
        lines += [f"failed: {reason}" for reason in self.failed]
        return lines


def convert_csgo(
    input_path: Path | str,
    out: Path | str,
    *,
    workers: int = 1,
    test_split: Optional[str] = None,
    full_res_copy: bool = False,
    progress: bool = True,
) -> ConversionSummary:
    """Convert (or resume converting) the CS:GO episodes of `input_path` into `out`; see the module docstring."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: expected at least 1")
    start = time.perf_counter()
    input_path, out = Path(input_path).expanduser(), Path(out).expanduser()
    sources = find_sources(input_path)
    split = load_test_split(test_split)
    train, test = split.split(sources)
    parts = (LOW_RES, FULL_RES) if full_res_copy else (LOW_RES,)
    # "frames": how low-resolution frames are made; a conversion made otherwise (rounded) is converted again
    settings = {"kind": "csgo", "low_res_size": list(LOW_RES_SIZE), "frames": "published bytes"}
    staged = StagedOutput(out, parts, settings)
    staged.check_folder()
    staged.remove_temporary_files()
    mapping = {"train": [s.file_id for s in train], "test": [s.file_id for s in test]}
    staged.prepare(mapping)
    pending = [s for s in sources if not staged.is_done(s.file_id, s.fingerprint)]
    if pending:
        staged.unfinalize()  # a changed input file after a finished conversion: laid out again at the end
    summary = ConversionSummary(
        out,
        input_path,
        split,
        workers,
        full_res_copy,
        any(s.member is not None for s in sources),
        len(sources),
    )
    summary.already_done = len(sources) - len(pending)
    failed = set()
    with StopOnSignals() as stop:
        for outcome in _run(pending, staged, workers, progress):
            stop.check()
            if outcome.error is None:
                summary.converted += 1
                summary.frames_converted += outcome.length
            else:
                failed.add(outcome.key)
                summary.failed.append(outcome.error)
                log.warning("%s", outcome.error)
        stop.check()
    summary.failed.sort()
    mapping = {k: [key for key in keys if key not in failed] for k, keys in mapping.items()}
    extra = {"input": str(input_path), "test_split": split.description, "failed": summary.failed}
    indexes = staged.finalize(mapping, csgo_action_spec(), extra)
    for split_name in mapping:
        index = indexes[f"{LOW_RES}/{split_name}"]
        summary.episodes[split_name], summary.steps[split_name] = index.num_episodes, index.num_steps
    summary.seconds = time.perf_counter() - start
    return summary


def _run(pending: Sequence[Source], staged: StagedOutput, workers: int, progress: bool):
    """Outcomes of converting `pending`, in completion order, with a progress bar on a terminal."""
    tasks = [(s, staged) for s in pending]
    bar = tqdm(total=len(tasks), unit="episode", desc="converting", disable=None if progress else True)
    try:
        if workers == 1 or len(tasks) <= 1:
            for task in tasks:
                yield _convert_source(task)
                bar.update()
            return
        ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold torch's threads
        with ctx.Pool(min(workers, len(tasks)), initializer=_init_worker) as pool:
            for outcome in pool.imap_unordered(_convert_source, tasks, chunksize=1):
                yield outcome
                bar.update()
    finally:
        bar.close()
