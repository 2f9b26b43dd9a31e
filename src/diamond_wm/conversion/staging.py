"""Converted episodes staged one file each, then laid out as datasets in the published layout at once.

A conversion writes `<out>`:

    <out>/.staging/<part>/<key>.pt       one converted episode per source (`key`: e.g. the hdf5 file's id)
    <out>/.staging/meta/<key>.json       written last: the episode is done (its length, counts, settings)
    <out>/<part>/<split>/                 the datasets (`low_res/train`, `low_res/test`, `full_res/...`)
    <out>/conversion.json                 which key is which episode of which dataset, and the settings

Every file is written atomically (temporary file, then rename), so an interrupted conversion leaves whole episodes
or none, and a rerun skips the keys whose meta file exists with the same settings. The datasets appear only once
every episode is done: `finalize` records the mapping in `conversion.json` (state "finalizing"), moves each staged
episode to its place (`<id // 100 * 100 % 1000>/<...>/<id>.pt`, ids in the order given), writes each dataset's
`info.pt` and `action_spec.json`, then marks the mapping "complete". A rerun with another mapping (more input
files, another test split) first moves the episodes back (`unfinalize`): a crash at any point is repaired by the
next run. The meta files stay in `.staging/` (a few hundred bytes each): they let a rerun skip finished episodes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote

import numpy as np

from diamond_wm.config.actions import ACTION_SPEC_FILENAME, ActionSpec, write_action_spec
from diamond_wm.data.episode import Episode
from diamond_wm.data.published_layout import INDEX_FILENAME, DatasetIndex, episode_relpath, write_index
from diamond_wm.runtime.atomic import atomic_write_text

MANIFEST_FILENAME = "conversion.json"
STAGING_DIRNAME = ".staging"
MANIFEST_FORMAT = 1


def episode_counts(ep: Episode) -> dict[str, list[int]]:
    """Steps per reward sign (-1, 0, +1) and per end flag (0, 1): what `info.pt` counts."""
    sign = ep.rew.sign()
    return {
        "rew": [int((sign == v).sum()) for v in (-1, 0, 1)],
        "end": [int((ep.end == v).sum()) for v in (0, 1)],
    }


class StagedOutput:
    """The output folder of a conversion (see the module docstring): `parts` are the datasets written per episode
    (e.g. low_res, full_res); `settings` (JSON) decide whether a staged episode can be reused."""

    def __init__(self, out: Path | str, parts: Sequence[str], settings: Mapping[str, Any]) -> None:
        self.out = Path(out).expanduser()
        self.parts = tuple(parts)
        self.settings = json.loads(json.dumps(dict(settings)))  # as it reads back from JSON
        self.staging = self.out / STAGING_DIRNAME

    # ------------------------------------------------------------------ staged episodes

    def staged_path(self, part: str, key: str) -> Path:
        return self.staging / part / f"{quote(key, safe='')}.pt"

    def meta_path(self, key: str) -> Path:
        return self.staging / "meta" / f"{quote(key, safe='')}.json"

    def dataset_dir(self, part: str, split: str) -> Path:
        return self.out / part / split

    def meta(self, key: str) -> Optional[dict[str, Any]]:
        """What the meta file of `key` records; None when the episode was not staged (or the file is unusable)."""
        try:
            return json.loads(self.meta_path(key).read_text())
        except (OSError, ValueError):
            return None

    def is_done(self, key: str, fingerprint: str = "") -> bool:
        """True when `key` was converted with these settings into every part from an input of this `fingerprint`
        (e.g. its size and modification time): then a rerun skips it."""
        m = self.meta(key)
        return (
            m is not None
            and m.get("settings") == self.settings
            and m.get("fingerprint", "") == fingerprint
            and set(self.parts) <= set(m.get("parts", ()))
        )

    def write(self, key: str, episodes: Mapping[str, Episode], fingerprint: str = "") -> dict[str, Any]:
        """Stage the episode of every part, then its meta file (last: it marks the episode done)."""
        missing = set(self.parts) - set(episodes)
        if missing:
            raise ValueError(f"{key}: no episode for part(s) {sorted(missing)}")
        lengths = {len(ep) for ep in episodes.values()}
        if len(lengths) != 1:
            raise ValueError(f"{key}: the parts have different lengths {sorted(lengths)}")
        for part in self.parts:
            episodes[part].save(self.staged_path(part, key))
        low = episodes[self.parts[0]]
        meta = {"key": key, "settings": self.settings, "fingerprint": fingerprint, "parts": list(self.parts)}
        meta["length"] = len(low)
        meta |= episode_counts(low)
        atomic_write_text(self.meta_path(key), json.dumps(meta) + "\n")
        return meta

    def remove_temporary_files(self) -> int:
        """Delete the temporary files an interrupted write left (`.<name>.*.tmp`); returns how many."""
        count = 0
        if self.staging.is_dir():
            for tmp in self.staging.rglob(".*.tmp"):
                tmp.unlink(missing_ok=True)
                count += 1
        return count

    # ------------------------------------------------------------------ datasets

    def manifest(self) -> Optional[dict[str, Any]]:
        path = self.out / MANIFEST_FILENAME
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except ValueError as e:
            raise ValueError(
                f"{path}: unreadable ({e}); move it away and rerun (episodes are converted again)"
            ) from e

    def check_folder(self) -> None:
        """ValueError unless `out` is new, empty, or a folder this module wrote (one line naming the stranger)."""
        if not self.out.exists():
            return
        if not self.out.is_dir():
            raise ValueError(f"{self.out} is a file: expected a new or empty folder for the datasets")
        m = self.manifest()
        ours = {STAGING_DIRNAME, MANIFEST_FILENAME} | (
            set(m.get("parts", ())) | set(self.parts) if m else set()
        )
        for entry in sorted(self.out.iterdir()):
            leftover = entry.name in self.parts and entry.is_dir() and not any(entry.rglob("*.pt"))
            if entry.name not in ours and not leftover:
                raise ValueError(
                    f"{self.out} holds {entry.name}, not written by diamond dataset: give a new or empty folder"
                )

    def prepare(self, mapping: Mapping[str, Sequence[str]]) -> None:
        """Unless `conversion.json` records this mapping with these settings and parts, move the episodes of the
        datasets it records back to staging (see `unfinalize`)."""
        m = self.manifest()
        if m is None:
            return
        same = (
            m.get("settings") == self.settings
            and m.get("parts") == list(self.parts)
            and m.get("splits") == {k: list(v) for k, v in mapping.items()}
        )
        if not same:
            self.unfinalize()

    def finalize(
        self, mapping: Mapping[str, Sequence[str]], action_spec: ActionSpec, extra: Mapping[str, Any] = ()
    ) -> dict[str, DatasetIndex]:
        """Lay out the staged episodes as datasets `<part>/<split>` (episode i of a split is `mapping[split][i]`)
        and return the index of each `<part>/<split>`. Every key must be done."""
        metas = {k: self.meta(k) for keys in mapping.values() for k in keys}
        not_done = [k for k, m in metas.items() if m is None]
        if not_done:
            raise ValueError(
                f"cannot lay out the datasets: {len(not_done)} episode(s) not converted, e.g. {not_done[0]}"
            )
        manifest = {
            "format": MANIFEST_FORMAT,
            "state": "finalizing",
            "settings": self.settings,
            "parts": list(self.parts),
            "splits": {k: list(v) for k, v in mapping.items()},
        } | dict(extra)
        self._write_manifest(manifest)
        indexes = {}
        for part in self.parts:
            for split, keys in mapping.items():
                folder = self.dataset_dir(part, split)
                folder.mkdir(parents=True, exist_ok=True)
                for i, key in enumerate(keys):
                    src, dst = self.staged_path(part, key), folder / episode_relpath(i)
                    if src.is_file():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                    elif not dst.is_file():
                        raise ValueError(f"{key}: staged episode {src} missing (and not at {dst})")
                index = _index([metas[k] for k in keys])
                write_index(folder / INDEX_FILENAME, index)
                write_action_spec(folder / ACTION_SPEC_FILENAME, action_spec)
                indexes[f"{part}/{split}"] = index
        self._write_manifest(manifest | {"state": "complete"})
        return indexes

    def unfinalize(self) -> None:
        """Move the datasets' episodes back to staging (from the mapping of `conversion.json`), then remove the
        datasets and the mapping. Safe to repeat after a crash."""
        m = self.manifest()
        if m is None:
            return
        for part in m.get("parts", ()):
            for split, keys in m.get("splits", {}).items():
                folder = self.dataset_dir(part, split)
                for i, key in enumerate(keys):
                    src = folder / episode_relpath(i)
                    if src.is_file():
                        dst = self.staged_path(part, key)
                        if (
                            dst.is_file()
                        ):  # converted again since it was laid out: the dataset's copy is stale
                            src.unlink()
                            continue
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(src, dst)
                if folder.is_dir():
                    shutil.rmtree(folder)
        (self.out / MANIFEST_FILENAME).unlink()

    def recorded_settings(self) -> Optional[dict[str, Any]]:
        """The settings of what `out` holds: those of its datasets (`conversion.json`), else those of a staged
        episode (a conversion that never finished); None for a new folder."""
        m = self.manifest()
        if m is not None:
            return m.get("settings", {})
        metas = sorted((self.staging / "meta").glob("*.json")) if self.staging.is_dir() else []
        for path in metas:
            try:
                return json.loads(path.read_text()).get("settings", {})
            except (OSError, ValueError):
                continue
        return None

    def remove_all(self) -> None:
        """Remove everything a conversion wrote in `out` (after `check_folder`: nothing else is there): the
        staged episodes first, the mapping last, so that an interrupted removal is finished by the next one."""
        m = self.manifest() or {}
        if self.staging.is_dir():
            shutil.rmtree(self.staging)
        for part in sorted(set(m.get("parts", ())) | set(self.parts)):
            if (self.out / part).is_dir():
                shutil.rmtree(self.out / part)
        (self.out / MANIFEST_FILENAME).unlink(missing_ok=True)

    def discard(self, keys: Sequence[str]) -> None:
        """Remove the staged episodes (and meta files) of `keys`, then the staging folders left empty."""
        for key in keys:
            self.meta_path(key).unlink(missing_ok=True)
            for part in self.parts:
                self.staged_path(part, key).unlink(missing_ok=True)
        for folder in (*(self.staging / p for p in (*self.parts, "meta")), self.staging):
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()

    def _write_manifest(self, manifest: Mapping[str, Any]) -> None:
        atomic_write_text(self.out / MANIFEST_FILENAME, json.dumps(manifest, indent=1) + "\n")


def plural(n: int, word: str) -> str:
    """'1 episode', '2 episodes'."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def split_lines(folder: Path, episodes: Mapping[str, int], steps: Mapping[str, int]) -> list[str]:
    """'train: 2 episodes, 24 steps -> OUT/low_res/train' for train and test (for the summaries)."""
    return [
        f"{s}: {plural(episodes.get(s, 0), 'episode')}, {plural(steps.get(s, 0), 'step')} -> {folder / s}"
        for s in ("train", "test")
    ]


def _index(metas: Sequence[Mapping[str, Any]]) -> DatasetIndex:
    rew, end = Counter({-1: 0, 0: 0, 1: 0}), Counter({0: 0, 1: 0})
    for m in metas:
        rew.update(dict(zip((-1, 0, 1), m["rew"], strict=True)))
        end.update(dict(zip((0, 1), m["end"], strict=True)))
    lengths = np.asarray([m["length"] for m in metas], dtype=np.int64)
    return DatasetIndex(lengths=lengths, counter_rew=rew, counter_end=end, is_static=True)
