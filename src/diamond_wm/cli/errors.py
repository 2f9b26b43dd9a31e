"""What `diamond` prints when a command fails: one line and a non-zero exit code for what the user can fix.

A user can fix: a full disk, a read-only or forbidden folder, a missing file (`OSError` with those errno values),
a bad value or file (`ValueError`, checkpoint and config errors), a dataset or load error, an interrupt
(Ctrl-C: exit 130) or the end of input at a prompt (Ctrl-D: exit 1). Anything else is a bug: its traceback is
shown. `diamond --debug CMD ...` shows the traceback of every error.
"""

from __future__ import annotations

import errno
import os
import sys
from pathlib import Path
from typing import Optional

USAGE_ERROR = 2
OS_ERROR = 1
INTERRUPTED = 130

# errno -> what to do about it (None: the message says enough).
OS_ADVICE: dict[int, Optional[str]] = {
    errno.ENOSPC: "free space",
    errno.EROFS: "make it writable (or work on a writable disk)",
    errno.EACCES: "fix its permissions (or work in a folder you can write to)",
    errno.EPERM: "fix its permissions (or work in a folder you can write to)",
    errno.ENOENT: None,
    errno.ENOTDIR: None,
    errno.EISDIR: None,
    errno.ENAMETOOLONG: None,
}
if hasattr(errno, "EDQUOT"):
    OS_ADVICE[errno.EDQUOT] = "free space"

# Our error classes, by module: checked only when their module is already imported (no import at error time).
_USER_ERRORS = (
    ("diamond_wm.loading.agent", "LoadError"),
    ("diamond_wm.data.errors", "DatasetError"),
    ("hydra.errors", "HydraException"),
    ("omegaconf.errors", "OmegaConfBaseException"),
)

_debug = False


def set_debug(on: bool) -> None:
    """Show full tracebacks (`--debug`) instead of one-line messages."""
    global _debug
    _debug = bool(on)


def debug_enabled() -> bool:
    return _debug or os.environ.get("DIAMOND_DEBUG", "") not in ("", "0")


def describe(err: BaseException, resume_run: Optional[Path] = None) -> Optional[tuple[str, int]]:
    """(one line, exit code) for an error the user can fix, else None. `resume_run`: a run folder that
    `diamond train --resume` can continue, named in the advice for disk errors."""
    if isinstance(err, KeyboardInterrupt):
        reason = _first_line(err)
        return (f"interrupted ({reason})" if reason else "interrupted"), INTERRUPTED
    if isinstance(err, EOFError):
        return (_first_line(err) or "no input (end of file)"), OS_ERROR
    if isinstance(err, OSError) and not _is_user_error(err):
        return _describe_os_error(err, resume_run)
    if isinstance(err, ValueError) or _is_user_error(err):
        one_line = getattr(err, "one_line", None)
        text = one_line() if callable(one_line) else _first_line(err)
        cause = err.__cause__
        if cause is not None and type(err).__module__.startswith("hydra") and _first_line(cause):
            text = f"{text} ({_first_line(cause)})"  # Hydra says what failed, its cause why
        return (text or type(err).__name__), USAGE_ERROR
    return None


def report(command: str, err: BaseException, resume_run: Optional[Path] = None) -> int:
    """Print `diamond COMMAND: <one line>` on stderr and return the exit code; re-raise `err` when it is not
    an error the user can fix, or with --debug."""
    described = None if debug_enabled() else describe(err, resume_run)
    if described is None:
        raise err
    line, code = described
    print(f"diamond {command}: {line}" if command else f"diamond: {line}", file=sys.stderr, flush=True)
    return code


def _describe_os_error(err: OSError, resume_run: Optional[Path]) -> Optional[tuple[str, int]]:
    if (
        err.errno is None
    ):  # raised by our code with a message, e.g. FileNotFoundError("checkpoint not found: X")
        return (_first_line(err) or type(err).__name__), USAGE_ERROR
    if err.errno not in OS_ADVICE:
        return None
    from diamond_wm.runtime.atomic import WriteError

    what = os.strerror(err.errno)
    where = err.filename if err.filename is not None else None
    if isinstance(err, WriteError):
        line = f"cannot write {where}: {what} (errno {err.errno})"
    elif where is not None:
        line = f"{where}: {what} (errno {err.errno})"
    else:
        line = f"{what} (errno {err.errno})"
    advice = OS_ADVICE[err.errno]
    if resume_run is not None and advice is not None:
        advice += f" and resume with diamond train --resume {resume_run}"
    return (f"{line}; {advice}" if advice else line), OS_ERROR


def _is_user_error(err: BaseException) -> bool:
    for module, name in _USER_ERRORS:
        cls = getattr(sys.modules.get(module), name, None)
        if isinstance(cls, type) and isinstance(err, cls):
            return True
    return False


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0].strip() if text else ""
