"""`diamond dataset info` and `verify`: what the datasets of a folder hold, and whether each episode file is whole.

A folder is a dataset when it holds `info.pt`; `find_datasets` looks at the folder and two levels below it, so a
dataset root (`train/`, `test/`), a converted folder (`low_res/{train,test}`, `full_res/{train,test}`) or a run
folder (`dataset/{train,test}`) are all found. Nothing is written.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np
from tqdm import tqdm

from diamond_wm.config.actions import ACTION_SPEC_FILENAME, ActionSpec, read_action_spec
from diamond_wm.conversion.staging import MANIFEST_FILENAME, plural
from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import DatasetError
from diamond_wm.data.published_layout import (
    INDEX_FILENAME,
    DatasetIndex,
    episode_relpath,
    read_index,
    scan_episode_ids,
)


def find_datasets(root: Path | str) -> list[Path]:
    """The dataset folders (holding `info.pt`) at `root` and up to two levels below, sorted (train before test)."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise ValueError(f"{root}: no such folder")
    found = [
        p.parent
        for pattern in (INDEX_FILENAME, f"*/{INDEX_FILENAME}", f"*/*/{INDEX_FILENAME}")
        for p in root.glob(pattern)
    ]
    order = {"low_res": 0, "full_res": 1, "train": 0, "test": 1}
    found = sorted(
        found, key=lambda p: (order.get(p.parent.name, 2), str(p.parent), order.get(p.name, 2), p.name)
    )
    if not found:
        raise ValueError(f"{root}: no dataset (no {INDEX_FILENAME} in it nor in its subfolders)")
    return found


def _name(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path != root else path.name


def _spec_text(folder: Path, first: Optional[Episode]) -> str:
    try:
        spec = read_action_spec(folder / ACTION_SPEC_FILENAME)
    except ValueError as e:
        return f"unreadable {ACTION_SPEC_FILENAME} ({e})"
    if spec is not None:
        return spec.describe()
    if first is None:
        return "not recorded"
    return f"not recorded ({ActionSpec.infer(first.act).describe()} by the first episode)"


def describe(root: Path | str) -> list[str]:
    """One line per dataset of `root` (episodes, steps, frames, actions, reward signs, ends) and totals."""
    root = Path(root).expanduser()
    lines = []
    manifest = root / MANIFEST_FILENAME
    if manifest.is_file():
        m = json.loads(manifest.read_text())
        lines.append(
            f"{root}: converted by diamond dataset ({m.get('settings', {}).get('kind')}), state {m.get('state')}"
        )
        if m.get("test_split"):
            lines.append(f"test split: {m['test_split']}")
        if m.get("failed"):
            lines.append(f"{len(m['failed'])} input files failed to convert (listed in {manifest})")
    for folder in find_datasets(root):
        index = read_index(folder / INDEX_FILENAME)
        first = Episode.load(folder / episode_relpath(0)) if index.num_episodes else None
        frames = "x".join(map(str, first.frame_shape)) if first is not None else "-"
        lengths = f"{index.lengths.min()}-{index.lengths.max()}" if index.num_episodes else "-"
        rew, end = index.counter_rew or Counter(), index.counter_end or Counter()
        lines.append(
            f"{_name(folder, root)}: {plural(index.num_episodes, 'episode')}, {plural(index.num_steps, 'step')} "
            f"(lengths {lengths}), "
            f"frames {frames}, actions: {_spec_text(folder, first)}, rewards -1/0/+1: "
            f"{rew[-1]}/{rew[0]}/{rew[1]}, ends {end[1]}{', static' if index.is_static else ''}"
        )
    return lines


@dataclass
class Verification:
    """What `verify` found: `problems` (one line each, naming the file), `notes` and the datasets checked."""

    checked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def verify(root: Path | str, progress: bool = True) -> Verification:
    """Read every episode of every dataset of `root`; check it against its index, action spec and the others."""
    root = Path(root).expanduser()
    result = Verification()
    indexes: dict[Path, DatasetIndex] = {}
    for folder in find_datasets(root):
        index = _verify_dataset(folder, root, result, progress)
        if index is not None:
            indexes[folder] = index
    for (
        folder,
        index,
    ) in indexes.items():  # a full-resolution copy has the episodes of its low-resolution dataset
        if folder.parent.name == "full_res":
            low = folder.parent.parent / "low_res" / folder.name
            if low in indexes and not np.array_equal(indexes[low].lengths, index.lengths):
                result.problems.append(
                    f"{folder / INDEX_FILENAME}: episode lengths differ from {low / INDEX_FILENAME}"
                )
    return result


def _verify_dataset(folder: Path, root: Path, result: Verification, progress: bool) -> Optional[DatasetIndex]:
    try:
        index = read_index(folder / INDEX_FILENAME)
    except DatasetError as e:
        result.problems.append(str(e))
        return None
    try:
        spec = read_action_spec(folder / ACTION_SPEC_FILENAME)
    except ValueError as e:
        result.problems.append(str(e))
        spec = None
    shape = None
    rew, end = Counter({-1: 0, 0: 0, 1: 0}), Counter({0: 0, 1: 0})
    bad_before = len(result.problems)
    episodes = tqdm(
        range(index.num_episodes),
        desc=_name(folder, root),
        unit="episode",
        disable=None if progress else True,
    )
    for i in episodes:
        path = folder / episode_relpath(i)
        try:
            ep = Episode.load(path)
        except DatasetError as e:
            result.problems.append(str(e))
            continue
        where = f"episode file {path}"
        if len(ep) != index.lengths[i]:
            result.problems.append(
                f"{where}: {len(ep)} steps but {folder / INDEX_FILENAME} says {index.lengths[i]}"
            )
        if shape is not None and ep.frame_shape != shape:
            result.problems.append(f"{where}: frames {ep.frame_shape}, episode 0's {shape}")
        shape = shape or ep.frame_shape
        if spec is not None:
            try:
                spec.validate(ep.act, what="its actions")
            except ValueError as e:
                result.problems.append(f"{where}: {e}")
        sign = ep.rew[: index.lengths[i]].sign()
        rew.update({v: int((sign == v).sum()) for v in (-1, 0, 1)})
        end.update({v: int((ep.end[: index.lengths[i]] == v).sum()) for v in (0, 1)})
    counts_differ = index.counter_rew is not None and (index.counter_rew != rew or index.counter_end != end)
    if len(result.problems) == bad_before and counts_differ:
        result.problems.append(
            f"{folder / INDEX_FILENAME}: reward/end counts {dict(index.counter_rew)}/{dict(index.counter_end)} "
            f"but the episodes hold {dict(rew)}/{dict(end)}"
        )
    extra = [i for i in scan_episode_ids(folder) if i >= index.num_episodes]
    if extra:
        result.notes.append(
            f"{folder}: {len(extra)} episode file(s) beyond the {index.num_episodes} indexed are ignored"
        )
    result.checked.append(
        f"{_name(folder, root)}: {plural(index.num_episodes, 'episode')}, {plural(index.num_steps, 'step')}"
    )
    return index
