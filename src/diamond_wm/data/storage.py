"""Atomic writes and safe reads of `.pt` files (`torch.load(weights_only=True)` only, never a full unpickler).

What `weights_only=True` can load: tensors, Python scalars, strings, lists, tuples, dicts, `collections.OrderedDict`
and `collections.Counter` (both allow-listed by torch). What it cannot load by default: numpy arrays, which
the published `info.pt` holds (`start_idx`, `lengths`). `load_pt` allow-lists exactly the numpy globals needed to
rebuild plain numeric arrays and scalars (`numpy.ndarray`, `numpy.dtype`, the numeric dtype classes, `_reconstruct`
and `scalar`, under both the numpy 1 and numpy 2 module names) when `allow_numpy=True`, and nothing else.

Partial reads (`read_pt_layout`, `TensorRecord.read_rows`): the rows of a tensor read from its file without
loading the rest (a segment of an episode file), see below.
"""

from __future__ import annotations

import collections
import io
import logging
import math
import os
import pickle
import struct
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

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


# ---------------------------------------------------------------------------------------------- partial reads
# A file written by `torch.save` (its zip format, the default since torch 1.6) is an uncompressed zip archive:
# `<archive>/data.pkl` (the pickled structure) and one record `<archive>/data/<key>` per tensor storage, raw
# bytes. `read_pt_layout` reads the archive's directory and its pickle only, with an unpickler that knows the
# tensor-rebuilding globals and nothing else (it builds `TensorRecord`s: where each tensor's bytes are); a tensor's
# rows are then read with one `os.pread` each, whatever the file's size. What torch.load would read is the same
# bytes: the file format is unchanged, and the published code reads it as before.

_STORAGE_DTYPES = {
    "ByteStorage": torch.uint8,
    "CharStorage": torch.int8,
    "ShortStorage": torch.int16,
    "IntStorage": torch.int32,
    "LongStorage": torch.int64,
    "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16,
    "FloatStorage": torch.float32,
    "DoubleStorage": torch.float64,
    "BoolStorage": torch.bool,
}
_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length (30 bytes)


class PartialReadError(ValueError):
    """A file whose tensors cannot be located without `torch.load` (legacy format, compressed, unexpected
    content): callers load it whole instead, which reports what is wrong with it."""


@dataclass(frozen=True)
class TensorRecord:
    """A tensor stored in a `torch.save` file: its dtype, shape, strides (elements) and the byte offset of its
    first element in the file."""

    dtype: torch.dtype
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    offset: int

    @property
    def row_major(self) -> bool:
        """True when the rows (along dim 0) are contiguous, one after the other."""
        expected, size = [], 1
        for n in reversed(self.shape):
            expected.append(size)
            size *= n
        dims = [(s, e) for s, e, n in zip(self.stride, reversed(expected), self.shape, strict=True) if n > 1]
        return all(s == e for s, e in dims)

    def read_rows(self, fd: int, lo: int, hi: int) -> torch.Tensor:
        """Rows [lo, hi) along dim 0 of the tensor, read from the open file `fd` (one pread)."""
        if not self.row_major:
            raise PartialReadError(f"tensor of strides {self.stride} is not stored row after row")
        if not 0 <= lo < hi <= self.shape[0]:
            raise ValueError(f"rows [{lo}, {hi}) outside the tensor's {self.shape[0]}")
        itemsize = torch.empty((), dtype=self.dtype).element_size()
        row = itemsize * math.prod(self.shape[1:])
        data = os.pread(fd, (hi - lo) * row, self.offset + lo * row)
        if len(data) != (hi - lo) * row:
            raise OSError(
                f"file shorter than its directory says ({len(data)} of {(hi - lo) * row} bytes read)"
            )
        flat = (
            torch.frombuffer(bytearray(data), dtype=self.dtype) if data else torch.empty(0, dtype=self.dtype)
        )
        return flat.reshape(hi - lo, *self.shape[1:])


@dataclass(frozen=True)
class _Storage:
    key: str
    dtype: torch.dtype


@dataclass(frozen=True)
class _PendingTensor:
    storage: _Storage
    storage_offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]


def _rebuild_tensor_stub(
    storage: Any, storage_offset: Any, size: Any, stride: Any, *rest: Any
) -> _PendingTensor:
    if not isinstance(storage, _Storage):
        raise pickle.UnpicklingError("a tensor without a storage record")
    return _PendingTensor(storage, int(storage_offset), tuple(map(int, size)), tuple(map(int, stride)))


class _StorageType:
    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


class _LayoutUnpickler(pickle.Unpickler):
    """Rebuilds the pickled structure with `_PendingTensor`s in place of tensors; any global other than the
    tensor-rebuilding ones (and `collections.OrderedDict`, the tensors' empty hooks) is refused."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_stub
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"global {module}.{name} is not read by partial reads")

    def persistent_load(self, pid: Any) -> _Storage:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        storage_type = pid[1]
        if not isinstance(storage_type, _StorageType):
            raise pickle.UnpicklingError(f"unexpected storage type {storage_type!r}")
        return _Storage(str(pid[2]), storage_type.dtype)


def read_pt_layout(path: str | Path) -> Any:
    """The structure saved in the `torch.save` file `path` (dicts, lists, strings, numbers), with a `TensorRecord`
    in place of each tensor; nothing but the archive's directory and its pickle is read.

    Raises `PartialReadError` for a file whose tensors cannot be located this way (legacy format, compressed
    records, another byte order, globals beyond tensors) and OSError as `open` does."""
    path = Path(path)
    with open(path, "rb") as f:
        try:
            with zipfile.ZipFile(f) as z:
                infos = {i.filename: i for i in z.infolist()}
                pkl = [n for n in infos if n == "data.pkl" or n.endswith("/data.pkl")]
                if len(pkl) != 1:
                    raise PartialReadError("not a torch.save zip archive (no single data.pkl)")
                prefix = pkl[0][: -len("data.pkl")]
                byteorder = infos.get(prefix + "byteorder")
                if byteorder is not None and z.read(byteorder).decode() != sys.byteorder:
                    raise PartialReadError("tensors stored in another byte order")
                unpickler = _LayoutUnpickler(io.BytesIO(z.read(pkl[0])))
                try:
                    obj = unpickler.load()
                except Exception as e:  # a refused global, a damaged pickle
                    raise PartialReadError(f"its pickle is not plain tensors and data: {e}") from None
        except zipfile.BadZipFile as e:
            raise PartialReadError(f"not a zip archive: {e}") from None
        offsets: dict[str, int] = {}

        def resolve(x: Any) -> Any:
            if isinstance(x, _PendingTensor):
                key = x.storage.key
                if key not in offsets:
                    info = infos.get(f"{prefix}data/{key}")
                    if info is None or info.compress_type != zipfile.ZIP_STORED:
                        raise PartialReadError(f"storage record {key} missing or compressed")
                    f.seek(info.header_offset)
                    sig, name_len, extra_len = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
                    if sig != b"PK\x03\x04":
                        raise PartialReadError(f"storage record {key}: bad local header")
                    offsets[key] = info.header_offset + _LOCAL_HEADER.size + name_len + extra_len
                itemsize = torch.empty((), dtype=x.storage.dtype).element_size()
                return TensorRecord(
                    x.storage.dtype, x.shape, x.stride, offsets[key] + x.storage_offset * itemsize
                )
            if isinstance(x, dict):
                return type(x)((k, resolve(v)) for k, v in x.items())
            if isinstance(x, (list, tuple)):
                return type(x)(resolve(v) for v in x)
            return x

        return resolve(obj)
