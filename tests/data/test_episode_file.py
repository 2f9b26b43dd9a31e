"""Partial reads of episode files (`EpisodeFile`, `EpisodeDataset.load_steps`): the steps of a segment are the
ones a whole load gives, and reading them costs their own bytes, not the episode's."""

from __future__ import annotations

import os

import pytest
import torch

from diamond_wm.data import EpisodeDataset, EpisodeFileError
from diamond_wm.data.episode import Episode, EpisodeFile
from diamond_wm.data.frames import to_float_frames
from diamond_wm.data.storage import PartialReadError, read_pt_layout
from tests.data.helpers import assert_episodes_equal, random_episode


def multi_hot_episode(length: int, seed: int = 0) -> Episode:
    ep = random_episode(length, size=6, end=True, seed=seed)
    act = (torch.rand(length, 51, generator=torch.Generator().manual_seed(seed)) < 0.2).float()
    return Episode(ep.obs, act, ep.rew, ep.end, ep.trunc, ep.info | {"original_file_id": "1-200/x.hdf5"})


@pytest.mark.parametrize("make", [lambda: random_episode(40, end=True), lambda: multi_hot_episode(40)])
def test_steps_read_from_the_file_are_those_of_a_whole_load(tmp_path, make):
    ep = make()
    ep.save(tmp_path / "0.pt")
    f = EpisodeFile(tmp_path / "0.pt")
    assert len(f) == 40
    for lo, hi in ((0, 40), (0, 1), (5, 14), (39, 40), (31, 40)):
        part = f.read(lo, hi)
        assert_episodes_equal(part, ep.steps(lo, hi))
        assert (part.final_observation is not None) == (hi == 40)
    assert f.read(31, 40).info.get("original_file_id") == ep.info.get("original_file_id")
    # the first `length` steps of a file longer than its index: no final observation, flags of the file
    assert_episodes_equal(f.read(30, 35, length=35), ep.head(35).steps(30, 35))


def test_a_segment_read_reads_its_own_bytes_only(tmp_path, monkeypatch):
    ep = random_episode(1000, size=16)
    ep.save(tmp_path / "0.pt")
    f = EpisodeFile(tmp_path / "0.pt")
    read = []
    real_pread = os.pread
    monkeypatch.setattr(os, "pread", lambda fd, n, off: read.append(n) or real_pread(fd, n, off))
    part = f.read(500, 509)
    assert torch.equal(part.obs, ep.obs[500:509])
    frame_bytes = 3 * 16 * 16
    # obs, act (int64), rew, end and trunc rows: nothing else
    assert sum(read) == 9 * (frame_bytes + 8 + 4 + 1 + 1)


def test_float_frames_of_older_files_read_as_uint8(tmp_path):
    ep = random_episode(12, end=True)
    d = ep.to_file_dict() | {"obs": to_float_frames(ep.obs)}
    torch.save(d, tmp_path / "0.pt")
    assert_episodes_equal(EpisodeFile(tmp_path / "0.pt").read(3, 12), ep.steps(3, 12))


def test_legacy_format_files_are_read_whole(tmp_path):
    ep = random_episode(12, end=True)
    torch.save(ep.to_file_dict(), tmp_path / "0.pt", _use_new_zipfile_serialization=False)
    with pytest.raises(PartialReadError):
        read_pt_layout(tmp_path / "0.pt")
    assert_episodes_equal(EpisodeFile(tmp_path / "0.pt").read(2, 7), ep.steps(2, 7))


def test_damaged_or_foreign_files_are_named(tmp_path):
    ep = random_episode(12)
    ep.save(tmp_path / "0.pt")
    data = (tmp_path / "0.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(EpisodeFileError, match="cut.pt"):
        EpisodeFile(tmp_path / "cut.pt")
    with pytest.raises(EpisodeFileError, match="missing.pt.*file not found"):
        EpisodeFile(tmp_path / "missing.pt")
    torch.save({"obs": ep.obs}, tmp_path / "partial.pt")
    with pytest.raises(EpisodeFileError, match=r"partial.pt.*missing keys \['act'"):
        EpisodeFile(tmp_path / "partial.pt")

    class Payload:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save(ep.to_file_dict() | {"info": {"x": Payload()}}, tmp_path / "evil.pt")
    with pytest.raises(PartialReadError, match="posix.system"):
        read_pt_layout(tmp_path / "evil.pt")  # refused, never run
    with pytest.raises(EpisodeFileError, match="evil.pt.*refusing"):
        EpisodeFile(tmp_path / "evil.pt")


def test_disk_backed_dataset_reads_the_steps_the_cached_one_holds(tmp_path):
    ds = EpisodeDataset(tmp_path / "d")
    for i, n in enumerate((7, 30, 12)):
        ds.add_episode(random_episode(n, seed=i, end=i == 1))
    disk = EpisodeDataset(tmp_path / "d", cache_in_ram=False)
    ram = EpisodeDataset(tmp_path / "d", read_only=True)
    for episode_id, start, stop in ((0, -3, 4), (1, 25, 34), (1, 20, 30), (2, 0, 12), (2, 11, 20)):
        assert_episodes_equal(
            disk.load_steps(episode_id, start, stop), ram.load_steps(episode_id, start, stop)
        )
    with pytest.raises(ValueError, match=r"steps \[7, 9\) hold no step of episode 0 \(length 7\)"):
        disk.load_steps(0, 7, 9)
    # a rewritten episode is read anew, not from the file's earlier layout
    disk.add_episode(random_episode(40, seed=9), episode_id=2)
    assert torch.equal(disk.load_steps(2, 30, 40).obs, random_episode(40, seed=9).obs[30:40])
