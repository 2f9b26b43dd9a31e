"""Atomic writes and safe reads of `.pt` files (`torch.load(weights_only=True)` only, never a full unpickler).

What `weights_only=True` can load: tensors, Python scalars, strings, lists, tuples, dicts, `collections.OrderedDict`
and `collections.Counter` (both allow-listed by torch). What it cannot load by default: numpy arrays, which
the published `info.pt` holds (`start_idx`, `lengths`). `load_pt` allow-lists exactly the numpy globals needed to
rebuild plain numeric arrays and scalars (`numpy.ndarray`, `numpy.dtype`, the numeric dtype classes, `_reconstruct`
and `scalar`, under both the numpy 1 and numpy 2 module names) when `allow_numpy=True`, and nothing else.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

log = logging.getLogger(__name__)


def _numpy_safe_globals() -> list[Any]:
    """The numpy callables/classes that a pickled numeric ndarray references, under every module name in use."""
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore[no-redef]
    allowed: list[Any] = []
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed += [(_reconstruct, f"{module}._reconstruct"), (scalar, f"{module}.scalar")]
    allowed += [np.ndarray, np.dtype]
    dtype_classes = {type(np.dtype(t)) for t in ("bool", "uint8", "int32", "int64", "float32", "float64")}
    allowed += sorted(dtype_classes, key=lambda c: c.__name__)
    return allowed


def load_pt(path: str | Path, allow_numpy: bool = False) -> Any:
    """`torch.load(path, map_location="cpu", weights_only=True)`, optionally allowing plain numpy arrays.

    Raises whatever `torch.load` raises (FileNotFoundError, RuntimeError for a damaged archive,
    `pickle.UnpicklingError` for a disallowed type); callers wrap it with the path in their own error type.
    """
    if allow_numpy:
        with torch.serialization.safe_globals(_numpy_safe_globals()):
            return torch.load(path, map_location="cpu", weights_only=True)
    return torch.load(path, map_location="cpu", weights_only=True)


def atomic_save_pt(obj: Any, path: str | Path) -> None:
    """`torch.save(obj, path)` through a temporary file in the same folder, fsync and `os.replace`.

    A crash leaves either the previous file or the new one, never half of one (the temporary file is removed
    on error; a stray `.<name>.*.tmp` can only remain after a hard kill and is ignored by readers).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
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
