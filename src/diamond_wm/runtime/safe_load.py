"""`torch.load(weights_only=True)` with refusals worded by us: one line naming the file and what was refused.

torch's own message for a refused pickle depends on the payload and opens with the advice to re-run with
`weights_only=False`, which would execute the payload. `safe_torch_load` raises instead:

- `UnsafePickleError` for a file that needs a global outside the allow-list (a class, `posix.system`,
  `builtins.eval`...): "refusing to load FILE: it needs arbitrary unpickling (global posix.system); only tensors
  and plain data are loaded". The globals are found by reading the pickle's opcodes, never by running them.
- `UnreadableFileError` (with `reason`) for a file that is empty, truncated or not a PyTorch file at all.

Besides torch's own allow-list, `bytes` is allowed: `torch.save` pickles with protocol 2, which writes an empty
`bytes` object as a call of `builtins.bytes` (a non-empty one as `_codecs.encode`, which torch allows), e.g. the
data of an empty numpy array in the `info.pt` of a dataset with no episode. It only makes bytes.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch

_SAFE_PREFIXES = ("torch.", "collections.OrderedDict", "collections.Counter", "_codecs.encode")
_ALWAYS_ALLOWED: tuple[Any, ...] = (bytes,)  # protocol 2 writes b"" as builtins.bytes() (see the docstring)
_MAX_SCAN_BYTES = 64 << 20


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A file that would need arbitrary unpickling to load (refused, nothing of it was executed)."""

    def __init__(self, path: str | Path, global_name: str | None) -> None:
        self.path = Path(path)
        self.global_name = global_name
        what = f"global {global_name}" if global_name else "a pickle opcode outside tensors and plain data"
        self.reason = f"it needs arbitrary unpickling ({what}); only tensors and plain data are loaded"
        super().__init__(f"refusing to load {self.path}: {self.reason}")


class UnreadableFileError(ValueError):
    """A file that `torch.load` cannot read: empty, truncated, or not a PyTorch file (`reason` says which)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"cannot read {self.path}: {reason}")


def safe_torch_load(path: str | Path, safe_globals: Sequence[Any] = ()) -> Any:
    """`torch.load(path, map_location="cpu", weights_only=True)` with `safe_globals` allowed in addition.

    Raises FileNotFoundError/PermissionError as `open` does, `UnsafePickleError` or `UnreadableFileError`.
    """
    path = Path(path)
    safe_globals = [*_ALWAYS_ALLOWED, *safe_globals]
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(safe_globals):
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        refused = _refused_global(path, e, safe_globals)
        if refused is not None:
            raise UnsafePickleError(path, refused) from None
        raise UnreadableFileError(path, _damage(path, e)) from None
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as e:
        raise UnreadableFileError(path, _damage(path, e)) from None


def check_zip_archive(path: str | Path) -> None:
    """Raise `UnreadableFileError` when `path` exists but is not a whole zip archive (what `torch.save` writes):
    empty or truncated. Reads only the archive's directory, not its tensors."""
    path = Path(path)
    if path.is_file() and not zipfile.is_zipfile(path):
        raise UnreadableFileError(path, _damage(path))


def _damage(path: Path, err: BaseException | None = None) -> str:
    """What is wrong with a file torch cannot read, in words (never torch's advice)."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"{e.strerror or e}"
    if size == 0:
        return "the file is empty"
    if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        return f"truncated ({size} bytes: the end of its zip archive is missing)"
    detail = _torch_detail(err)
    if head == b"PK\x03\x04":
        return f"corrupted PyTorch archive ({detail})" if detail else "corrupted PyTorch archive"
    if head[:1] == b"\x80":  # PROTO: a pickle, but not one torch.save wrote (or a damaged legacy file)
        return f"not a PyTorch file: a pickle it cannot read ({detail})" if detail else "not a PyTorch file"
    return "not a PyTorch file (neither a zip archive nor a pickle)"


def _torch_detail(err: BaseException | None) -> str:
    """The informative part of torch's message (e.g. "Unsupported operand 149"), without its advice."""
    if err is None:
        return ""
    text = str(err)
    if "WeightsUnpickler error:" in text:
        text = text.split("WeightsUnpickler error:", 1)[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "weights_only" not in ln and not ln.startswith("Check the documentation")]
    return lines[0].split(". Please use")[0][:200] if lines else ""


def _refused_global(path: Path, err: BaseException, safe_globals: Sequence[Any]) -> str | None:
    """The first global of `path` outside the allow-list (read from the opcodes), else the one torch named."""
    found = list(_globals_in(path))
    allowed = {_qualname(g) for g in safe_globals}
    if hasattr(torch.serialization, "get_unsafe_globals_in_checkpoint") and zipfile.is_zipfile(path):
        try:
            with torch.serialization.safe_globals(list(safe_globals)):
                unsafe = torch.serialization.get_unsafe_globals_in_checkpoint(path)
            if unsafe:
                return unsafe[0]
        except Exception:  # a damaged archive: fall back to our own reading
            pass
    for name in found:
        name = (
            "builtins." + name[len("__builtin__.") :] if name.startswith("__builtin__.") else name
        )  # protocol 2
        if name not in allowed and not name.startswith(_SAFE_PREFIXES):
            return name
    m = re.search(r"GLOBAL ([\w.]+)", str(err))
    return m.group(1) if m else None


def _qualname(g: Any) -> str:
    if isinstance(g, tuple):
        return str(g[1])
    return f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', getattr(g, '__name__', g))}"


def _globals_in(path: Path) -> Iterable[str]:
    """`module.name` of every GLOBAL / STACK_GLOBAL opcode of the file's pickles, in order (not executed)."""
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                blobs = [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
        else:
            with open(path, "rb") as f:
                blobs = [f.read(_MAX_SCAN_BYTES)]
    except (OSError, zipfile.BadZipFile, RuntimeError):
        return
    for blob in blobs:
        stream = io.BytesIO(blob)
        for _ in range(8):  # the legacy format holds a few pickles in a row
            if stream.tell() >= len(blob):
                break
            try:
                yield from _globals_of_one_pickle(stream)
            except Exception:
                break


def _globals_of_one_pickle(stream: io.BytesIO) -> Iterable[str]:
    strings: list[str] = []  # string operands pushed so far (STACK_GLOBAL takes the last two)
    memo: dict[int, Any] = {}
    for op, arg, _ in pickletools.genops(stream):
        name = op.name
        if name == "GLOBAL":
            yield str(arg).replace(" ", ".")
        elif name in ("SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "SHORT_BINSTRING"):
            strings.append(str(arg))
        elif name == "MEMOIZE" and strings:
            memo[len(memo)] = strings[-1]
        elif name in ("BINPUT", "LONG_BINPUT", "PUT") and strings:
            memo[int(arg)] = strings[-1]
        elif name in ("BINGET", "LONG_BINGET", "GET") and isinstance(memo.get(int(arg)), str):
            strings.append(memo[int(arg)])
        elif name == "STACK_GLOBAL" and len(strings) >= 2:
            yield f"{strings[-2]}.{strings[-1]}"
