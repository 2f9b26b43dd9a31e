"""What `diamond` prints when a command fails: one line and a non-zero exit code for what the user can fix.

A user can fix: a full disk, a read-only or forbidden folder, a missing file (`OSError` with those errno values),
a bad value or file (`ValueError`, checkpoint and config errors), a dataset or load error, an interrupt
(Ctrl-C: exit 130) or the end of input at a prompt (Ctrl-D: exit 1). Anything else is a bug: its traceback is
shown. `diamond --debug CMD ...` shows the traceback of every error.

Every command ends this way through `CommandErrors` (its own checks: `fail`; an error it catches: `caught`),
and `main` through `report` for what no command caught.
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
        text = one_line(err)
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
    return CommandErrors(f"diamond {command}" if command else "diamond").fail(line, code=code)


class CommandErrors:
    """How one command ends on an error the user can fix: `PREFIX: message` on stderr, one line, and the exit
    code; with --debug (`debug_enabled`) a caught error is re-raised instead, for its traceback.

    `prefix` is the start of the line, e.g. "diamond results" or "diamond eval: error"."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def fail(self, *lines: str, code: int = USAGE_ERROR) -> int:
        """Print `PREFIX: line` on stderr for each line (one, but for one line per problem of several);
        returns `code`, for the command to return."""
        for line in lines:
            print(f"{self.prefix}: {line}", file=sys.stderr, flush=True)
        return code

    def caught(self, err: BaseException, *lines: str, code: int = USAGE_ERROR) -> int:
        """End on `err`, caught by the command: re-raised with --debug, else `fail(*lines)`, where `lines`
        default to the error's `one_line()` when it has one, else to the first line of its text."""
        if debug_enabled():
            raise err
        return self.fail(*(lines or (one_line(err),)), code=code)


def one_line(err: BaseException) -> str:
    """`err` in one line: its `one_line()` when it has one (a checkpoint that does not fit, counted), else the
    first line of its text."""
    method = getattr(err, "one_line", None)
    return method() if callable(method) else _first_line(err)


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
