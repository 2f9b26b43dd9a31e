"""Where the CS:GO episodes come from (`.hdf5` files in a folder or in `.tar` files), and which are for testing.

Tar members are read in place (a window onto the tar file, the way `tarfile.extractfile` reads them): nothing is
extracted. Episodes are ordered as the published converter orders them, by the number that ends the file name
(`hdf5_dm_july2021_<n>.hdf5`), then by name and id.

Test split: the published one by default (`test_split.txt` of the published repository, 500 file names, shipped in
`diamond_wm/conversion/data/csgo_test_split.txt`), a file of names (one a line, matched against file names as the
published converter does), or `every:N` (the files at positions N-1, 2N-1, ... of that order).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from diamond_wm.conversion.csgo_hdf5 import file_id, require_h5py, tar_folder_name

PUBLISHED_SPLIT = "published"
_TRAILING_NUMBER = re.compile(r"_(\d+)$")


@dataclass(frozen=True)
class Source:
    """One episode file: `path` itself, or member `member` of the tar `path` (data at `offset`, `size` bytes)."""

    file_id: str  # `<folder>/<file name>`: recorded as the episode's info["original_file_id"]
    path: Path
    member: Optional[str] = None
    offset: int = 0
    size: int = 0
    mtime: int = 0  # seconds; with `size`, tells a rerun whether the file changed

    @property
    def fingerprint(self) -> str:
        return f"{self.size}:{self.mtime}"

    @property
    def name(self) -> str:
        """The file name (what a test split lists)."""
        return self.file_id.rsplit("/", 1)[-1]

    def describe(self) -> str:
        """For messages: the file, or `TAR:MEMBER`."""
        return f"{self.path}:{self.member}" if self.member is not None else str(self.path)

    @contextlib.contextmanager
    def open(self) -> Iterator[Any]:
        """The episode file opened with h5py (read-only)."""
        h5py = require_h5py()
        if self.member is None:
            with h5py.File(self.path, "r") as f:
                yield f
            return
        with _TarMember(self.path, self.offset, self.size) as raw, h5py.File(raw, "r") as f:
            yield f


class _TarMember(io.RawIOBase):
    """Bytes [offset, offset + size) of a file, read and seeked like a file of their own."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__()
        self._fd = os.open(path, os.O_RDONLY)
        self._offset, self._size, self._pos = offset, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = max(0, min(len(b), self._size - self._pos))
        if n == 0:
            return 0
        view = memoryview(b).cast("B")[:n]
        if hasattr(os, "preadv"):
            got = os.preadv(self._fd, [view], self._offset + self._pos)  # one call, no seek, no copy
        else:
            data = os.pread(self._fd, n, self._offset + self._pos)
            got = len(data)
            view[:got] = data
        self._pos += got
        return got

    def seek(self, pos: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        if not self.closed:
            os.close(self._fd)
        super().close()


def _sort_key(s: Source) -> tuple:
    m = _TRAILING_NUMBER.search(Path(s.name).stem)
    return (int(m.group(1)) if m else -1, s.name, s.file_id)


def _tar_sources(tar: Path) -> list[Source]:
    """The `.hdf5` members of a tar (its headers only are read)."""
    folder = tar_folder_name(tar)
    out = []
    try:
        with tarfile.open(tar, "r:") as t:
            for m in t:
                if m.isfile() and m.name.endswith(".hdf5"):
                    parent = Path(m.name).parent.name or folder  # top-level members land in <a>-<b>/
                    fid = f"{parent}/{Path(m.name).name}"
                    out.append(Source(fid, tar, m.name, m.offset_data, m.size, int(m.mtime)))
    except tarfile.ReadError as e:
        raise ValueError(f"{tar}: not a readable (uncompressed) tar file: {e}") from None
    return out


def find_sources(input_path: Path | str) -> list[Source]:
    """The episode files of a folder of `.tar` and/or `.hdf5` files (searched recursively), or of one tar file."""
    root = Path(input_path).expanduser()
    if root.is_file() and root.suffix == ".tar":
        tars, files = [root], []
    elif root.is_dir():
        tars = sorted(p for p in root.rglob("*.tar") if p.is_file())
        files = sorted(p for p in root.rglob("*.hdf5") if p.is_file())
    else:
        raise ValueError(
            f"{root}: expected a folder of .tar or .hdf5 files (or one .tar file), found none there"
        )
    sources = [s for tar in tars for s in _tar_sources(tar)]
    sources += [Source(file_id(p), p, size=p.stat().st_size, mtime=int(p.stat().st_mtime)) for p in files]
    if not sources:
        raise ValueError(f"{root}: no .hdf5 file in it (nor in a .tar file in it)")
    seen: dict[str, Source] = {}
    for s in sources:
        if s.file_id in seen:
            raise ValueError(
                f"two episode files with the id {s.file_id!r}: {seen[s.file_id].describe()} and {s.describe()}"
            )
        seen[s.file_id] = s
    return sorted(sources, key=_sort_key)


@dataclass(frozen=True)
class TestSplit:
    """Which episode files are test episodes; `description` says which split it is, for the summary."""

    description: str
    names: Optional[frozenset[str]] = None  # test file names (or ids), else:
    every: int = 0  # every N-th file of the sorted order

    def split(self, sources: Sequence[Source]) -> tuple[list[Source], list[Source]]:
        """(train, test), each in the order of `sources`."""
        if self.names is not None:
            is_test = [s.name in self.names or s.file_id in self.names for s in sources]
        else:
            is_test = [(i + 1) % self.every == 0 for i in range(len(sources))]
        train = [s for s, t in zip(sources, is_test, strict=True) if not t]
        return train, [s for s, t in zip(sources, is_test, strict=True) if t]


def published_test_names() -> frozenset[str]:
    """The 500 file names of the published `test_split.txt`."""
    text = resources.files("diamond_wm.conversion").joinpath("data/csgo_test_split.txt").read_text()
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


def load_test_split(spec: Optional[str]) -> TestSplit:
    """`published` (None too), `every:N`, or a text file of test file names (one a line, as `test_split.txt`)."""
    if spec is None or spec == PUBLISHED_SPLIT:
        return TestSplit("the published test_split.txt (500 files)", published_test_names())
    if spec.startswith("every:"):
        n = spec[len("every:") :]
        if not n.isdigit() or int(n) < 2:
            raise ValueError(f"--test-split {spec}: expected every:N with an integer N >= 2 (e.g. every:10)")
        return TestSplit(f"every {int(n)}th file in name order", every=int(n))
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ValueError(
            f"--test-split {spec}: no such file (expected a file of test file names, 'published' or every:N)"
        )
    names = frozenset(line.strip() for line in path.read_text().splitlines() if line.strip())
    if not names:
        raise ValueError(f"--test-split {path}: the file names no test file")
    return TestSplit(f"{path} ({len(names)} names)", names)
