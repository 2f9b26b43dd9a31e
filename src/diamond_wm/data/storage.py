"""Atomic writes and safe reads of `.pt` files (`torch.load(weights_only=True)` only, never a full unpickler).

What `weights_only=True` can load: tensors, Python scalars, strings, lists, tuples, dicts, `collections.OrderedDict`
and `collections.Counter` (both allow-listed by torch). What it cannot load by default: numpy arrays, which
the published `info.pt` holds (`start_idx`, `lengths`). `load_pt` allow-lists exactly the numpy globals needed to
rebuild plain numeric arrays and scalars (`numpy.ndarray`, `numpy.dtype`, the numeric dtype classes, `_reconstruct`
and `scalar`, under both the numpy 1 and numpy 2 module names) when `allow_numpy=True`, and nothing else.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from diamond_wm.runtime.atomic import atomic_torch_save
from diamond_wm.runtime.safe_load import safe_torch_load

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

    Raises FileNotFoundError/PermissionError as `open` does, `UnsafePickleError` for a file that needs any other
    global (nothing of it runs) and `UnreadableFileError` for a damaged file, both naming `path` in one line
    (`diamond_wm.runtime.safe_load`); callers wrap them in their own error type.
    """
    return safe_torch_load(path, _numpy_safe_globals() if allow_numpy else ())


atomic_save_pt = atomic_torch_save  # `torch.save` through a temporary file, fsync and `os.replace`
