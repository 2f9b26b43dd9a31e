"""Every file we write gets the permissions of the user's umask (not mkstemp's 0o600)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import torch

from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.runtime.atomic import atomic_torch_save, atomic_write_text, current_umask
from diamond_wm.training.run_dir import RunDir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o077, 0o002], ids=lambda m: f"umask{m:03o}")
def umask(request):
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def episode(n: int = 5) -> Episode:
    return Episode(
        obs=torch.zeros(n, 3, 8, 8, dtype=torch.uint8),
        act=torch.zeros(n, dtype=torch.long),
        rew=torch.zeros(n),
        end=torch.zeros(n, dtype=torch.uint8),
        trunc=torch.zeros(n, dtype=torch.uint8),
    )


def test_current_umask_is_read_without_changing_it(umask):
    assert current_umask() == umask
    assert current_umask() == umask


def test_atomic_writes_honour_the_umask(umask, tmp_path):
    atomic_write_text(tmp_path / "a" / "config.yaml", "x: 1\n")
    atomic_torch_save({"x": torch.zeros(2)}, tmp_path / "a" / "state.pt")
    for name in ("config.yaml", "state.pt"):
        assert mode(tmp_path / "a" / name) == 0o666 & ~umask, name
    assert mode(tmp_path / "a") == 0o777 & ~umask
    assert not [p for p in (tmp_path / "a").iterdir() if p.name.endswith(".tmp")]


def test_a_rewritten_file_keeps_the_permissions_its_owner_gave_it(umask, tmp_path):
    path = tmp_path / "state.pt"
    atomic_torch_save({"x": 1}, path)
    path.chmod(0o640)
    atomic_torch_save({"x": 2}, path)
    assert mode(path) == 0o640 and torch.load(path, weights_only=True) == {"x": 2}


def test_dataset_files_honour_the_umask(umask, tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    ds.add_episode(episode())
    ds.extend_episode(0, episode(2))
    ds.close()
    files = [p for p in (tmp_path / "d").rglob("*") if p.is_file()]
    assert {p.name for p in files} == {"0.pt", "info.pt"}
    for p in files:
        assert mode(p) == 0o666 & ~umask, p


def test_run_folder_files_honour_the_umask(tiny_run):
    """The tiny run was written under umask 022: files 0o644 (the resume script 0o755), folders 0o755."""
    files = [p for p in tiny_run.rglob("*") if p.is_file()]
    names = {p.relative_to(tiny_run).as_posix() for p in files}
    for expected in ("checkpoints/state.pt", "config/trainer.yaml", "FINISHED", "dataset/train/info.pt"):
        assert expected in names
    assert any(n.startswith("checkpoints/agent_versions/agent_epoch_") for n in names)
    assert any(n.startswith("dataset/train/000/") for n in names)
    wrong = {
        p.relative_to(tiny_run).as_posix(): oct(mode(p))
        for p in files
        if mode(p) != (0o755 if p.name == "resume.sh" else 0o644)
    }
    assert not wrong
    assert all(mode(d) == 0o755 for d in tiny_run.rglob("*") if d.is_dir())


def test_the_resume_script_is_executable_within_the_umask(umask, tmp_path):
    run = RunDir(tmp_path / "run")
    run.create()
    assert mode(run.resume_script) == 0o777 & ~umask
    assert mode(run.config_file.parent) == 0o777 & ~umask
