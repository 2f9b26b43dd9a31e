"""A full disk, a read-only or forbidden folder: one line naming the file, the errno's meaning and what to do;
the run resumes once the problem is fixed (at most the epoch being written is redone)."""

from __future__ import annotations

import errno
import os
import re
import tempfile
from pathlib import Path

import pytest
import torch

import diamond_wm.runtime.atomic as atomic
from diamond_wm.cli.errors import describe
from diamond_wm.cli.main import main
from diamond_wm.runtime.atomic import WriteError, atomic_torch_save
from tests.play.tiny_run import TINY_AGENT, TINY_SCHEDULE
from tests.reliability.conftest import error_lines, one_line

TRAIN = ["-q", "train", *TINY_SCHEDULE, *TINY_AGENT, "--no-progress"]


def train(run: Path) -> int:
    return main([*TRAIN, f"hydra.run.dir={run}"])


def resume(run: Path) -> int:
    return main(["-q", "train", "--resume", str(run), "--no-progress"])


def assert_finished(run: Path) -> None:
    state = torch.load(run / "checkpoints" / "state.pt", weights_only=True)
    assert (run / "FINISHED").is_file() and state["epoch"] == 2
    assert not [p for p in run.rglob("*.tmp")]  # no temporary file left behind


def fail_writes(monkeypatch, name_prefix: str, make_error, after: int = 0) -> None:
    """Make the atomic writes of files named `name_prefix...` fail (all but the first `after` of them)."""
    real = tempfile.mkstemp
    seen = {"n": 0}

    def mkstemp(*args, **kwargs):
        if not kwargs.get("prefix", "").startswith(f".{name_prefix}"):
            return real(*args, **kwargs)
        seen["n"] += 1
        if seen["n"] <= after:
            return real(*args, **kwargs)
        return make_error(real, *args, **kwargs)

    monkeypatch.setattr(atomic.tempfile, "mkstemp", mkstemp)


def dev_full(real, *args, **kwargs):
    """A temporary file whose writes fail as on a full disk (the kernel's own ENOSPC, from /dev/full)."""
    fd, name = real(*args, **kwargs)
    full = os.open("/dev/full", os.O_WRONLY)
    os.dup2(full, fd)
    os.close(full)
    return fd, name


def no_space(real, *args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
def test_full_disk_while_saving_an_epoch_is_one_line_and_the_run_resumes(tmp_path, monkeypatch, capsys):
    run = tmp_path / "run"
    fail_writes(
        monkeypatch, "state.pt", dev_full, after=2
    )  # epochs 0 (the initial collection) and 1 are saved
    assert train(run) == 1
    line = one_line("\n".join(error_lines(capsys.readouterr().err)))
    assert line == (
        f"diamond train: cannot write {run}/checkpoints/state.pt: No space left on device (errno 28); "
        f"free space and resume with diamond train --resume {run}"
    )
    assert torch.load(run / "checkpoints" / "state.pt", weights_only=True)["epoch"] == 1  # intact
    monkeypatch.undo()
    assert resume(run) == 0
    assert_finished(run)


def test_full_disk_on_a_real_tmpfs(tmpfs, capsys):
    mnt, remount = tmpfs
    run = mnt / "run"
    assert train(run) == 1  # 2 MiB: epoch 1 fits, not epoch 2's checkpoint beside it
    line = one_line("\n".join(error_lines(capsys.readouterr().err)))
    assert re.fullmatch(
        rf"diamond train: cannot write {re.escape(str(run))}/\S+: No space left on device \(errno 28\); "
        rf"free space and resume with diamond train --resume {re.escape(str(run))}",
        line,
    ), line
    remount("size=64m")
    assert resume(run) == 0
    assert_finished(run)


def test_read_only_run_folder_on_a_real_tmpfs(tmpfs, tiny_run, capsys):
    import shutil

    mnt, remount = tmpfs
    run = Path(shutil.copytree(tiny_run, mnt / "run"))
    (run / "FINISHED").unlink()  # the final evaluation is still to be written
    remount("ro")
    assert resume(run) == 1
    line = one_line("\n".join(error_lines(capsys.readouterr().err)))
    assert line.startswith(f"diamond train: {run}/") and "Read-only file system (errno 30)" in line
    assert line.endswith(f"and resume with diamond train --resume {run}")
    remount("rw")
    assert resume(run) == 0 and (run / "FINISHED").is_file()


@pytest.mark.parametrize(
    "err, meaning",
    [(errno.EROFS, "Read-only file system (errno 30)"), (errno.EACCES, "Permission denied (errno 13)")],
)
def test_read_only_or_forbidden_folder_simulated(err, meaning, run_copy, monkeypatch, capsys):
    """Tests run as root, which ignores permission bits: the error of a read-only/forbidden folder is raised."""

    def refuse(real, *args, **kwargs):
        name = os.path.join(kwargs["dir"], kwargs["prefix"] + "x" + kwargs["suffix"])
        raise OSError(err, os.strerror(err), name)

    (run_copy / "FINISHED").unlink()
    before = (run_copy / "checkpoints" / "state.pt").read_bytes()
    fail_writes(monkeypatch, "FINISHED", refuse)
    assert resume(run_copy) == 1
    line = one_line("\n".join(error_lines(capsys.readouterr().err)))
    assert line.startswith(f"diamond train: cannot write {run_copy}/FINISHED: {meaning}; ")
    assert line.endswith(f"and resume with diamond train --resume {run_copy}")
    assert (run_copy / "checkpoints" / "state.pt").read_bytes() == before


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores permission bits")
def test_read_only_folder_by_permissions(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(WriteError) as info:
            atomic_torch_save({"x": 1}, folder / "state.pt")
    finally:
        folder.chmod(0o755)
    line, code = describe(info.value)
    assert line.startswith(f"cannot write {folder / 'state.pt'}: Permission denied (errno 13)") and code == 1


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "state.pt"
    atomic_torch_save({"epoch": 1}, path)
    fail_writes(monkeypatch, "state.pt", dev_full if os.path.exists("/dev/full") else no_space)
    with pytest.raises(WriteError) as info:
        atomic_torch_save({"epoch": 2, "x": torch.zeros(1000)}, path)
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(path)
    assert torch.load(path, weights_only=True) == {"epoch": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.pt"]


@pytest.mark.parametrize(
    "err, expected",
    [
        (
            WriteError(errno.ENOSPC, "x", "/r/state.pt"),
            "cannot write /r/state.pt: No space left on device (errno 28); free space",
        ),
        (
            OSError(errno.EROFS, "x", "/r/train.log"),
            "/r/train.log: Read-only file system (errno 30); make it writable",
        ),
        (FileNotFoundError("checkpoint not found: a.pt"), "checkpoint not found: a.pt"),
        (KeyboardInterrupt(), "interrupted"),
        (EOFError(), "no input (end of file)"),
        (ValueError("bad value\nsecond line"), "bad value"),
    ],
)
def test_describe_gives_one_line(err, expected):
    line, code = describe(err)
    assert line.startswith(expected) and "\n" not in line and code != 0


def test_bugs_keep_their_traceback():
    assert describe(ZeroDivisionError("x")) is None
    assert describe(OSError(errno.EIO, "I/O error")) is None  # not something the user can fix
