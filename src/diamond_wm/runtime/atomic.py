"""Atomic file writes: a crash or an interrupt leaves either the old file or the new one, never half of one.

Files get the permissions any other program would give them: those of the file they replace, else 0o666 less the
process's umask (`tempfile.mkstemp` alone would make every file 0o600). A failed write raises `WriteError`, an
`OSError` that names the file being written (not the temporary file) and keeps the errno.
"""

from __future__ import annotations

import logging
import os
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import torch

log = logging.getLogger(__name__)

_UMASK_LOCK = threading.Lock()


class WriteError(OSError):
    """Writing `filename` failed: `errno` and `strerror` are those of the underlying OSError."""


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows (Linux: /proc/self/status)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _UMASK_LOCK:  # elsewhere: set and restore (briefly 0o077 at worst, never more permissive)
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def new_file_mode(path: Path) -> int:
    """Permission bits for a new version of `path`: the existing file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], None]) -> None:
    """Call `write(f)` on a temporary file beside `path`, fsync it, rename it over `path`, fsync the folder.

    On error the temporary file is removed; a stray `.<name>.*.tmp` can only remain after a hard kill.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise _write_error(e, path) from e
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            out = _RecordingFile(f)
            try:
                write(out)  # type: ignore[arg-type]
            except Exception as e:  # torch.save turns the OSError of a full disk into a RuntimeError
                if out.error is not None and out.error is not e:
                    raise out.error from e
                raise
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, new_file_mode(path))
        os.replace(tmp, path)
    except BaseException as e:
        tmp.unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, WriteError) and e.errno is not None:
            raise _write_error(e, path) from e
        raise
    try:
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:  # some platforms cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(dir_fd)
    except OSError:
        log.debug("could not fsync folder %s", path.parent)
    finally:
        os.close(dir_fd)


class _RecordingFile:
    """A binary file that remembers the first OSError of its `write`/`flush` (which callers may swallow)."""

    def __init__(self, f: IO[bytes]) -> None:
        self._f = f
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return self._f.write(data)
        except OSError as e:
            self.error = self.error or e
            raise

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as e:
            self.error = self.error or e
            raise

    def __getattr__(self, name: str) -> Any:
        return getattr(self._f, name)


def _write_error(e: OSError, path: Path) -> WriteError:
    """`e` re-raised as a WriteError naming `path` (a folder that cannot be created is named itself)."""
    target = e.filename if e.filename is not None and not str(e.filename).endswith(".tmp") else path
    if e.errno is None:
        return WriteError(f"cannot write {path}: {e}")
    return WriteError(e.errno, e.strerror or os.strerror(e.errno), str(target))


def atomic_torch_save(obj: Any, path: str | Path) -> None:
    """`torch.save(obj, path)`, atomically."""
    atomic_write(path, lambda f: torch.save(obj, f))


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    atomic_write(path, lambda f: f.write(text.encode("utf-8")))
