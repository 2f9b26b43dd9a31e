"""Episodes: uint8 frames, exact float round trip, atomic files, clear errors for bad files."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.data import Episode, EpisodeFileError, to_float_frames, to_uint8_frames
from diamond_wm.data.storage import load_pt
from tests.data.helpers import assert_episodes_equal, random_episode


def test_frame_round_trip_is_exact_for_every_level():
    u = torch.arange(256, dtype=torch.uint8).reshape(1, 1, 16, 16).expand(1, 3, 16, 16)
    f = to_float_frames(u)
    assert f.dtype == torch.float32 and f.min() == -1 and f.max() == 1
    assert torch.equal(to_uint8_frames(f), u)
    assert torch.equal(to_float_frames(to_uint8_frames(f)), f)
    with pytest.raises(ValueError, match="uint8"):
        to_float_frames(f)


def test_save_load_identical(tmp_path):
    ep = random_episode(17, end=True)
    path = tmp_path / "000/00/7/7.pt"
    ep.save(path)
    assert_episodes_equal(Episode.load(path), ep)
    assert [p.name for p in path.parent.iterdir()] == ["7.pt"]  # no temporary file left behind
    raw = load_pt(path)  # the published layout of the file
    assert raw["obs"].dtype == torch.uint8 and raw["act"].dtype == torch.int64
    assert raw["rew"].dtype == torch.float32 and raw["end"].dtype == raw["trunc"].dtype == torch.uint8
    assert raw["info"]["final_observation"].dtype == torch.float32  # float in [-1, 1], as published


def test_truncated_file_error_names_the_file(tmp_path):
    path = tmp_path / "3.pt"
    random_episode(20).save(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(EpisodeFileError, match="unreadable") as e:
        Episode.load(path)
    assert e.value.path == path and str(path) in str(e.value)


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(EpisodeFileError, match="not found") as e:
        Episode.load(tmp_path / "nope.pt")
    assert str(tmp_path / "nope.pt") in str(e.value)
    bad = tmp_path / "bad.pt"
    torch.save({"obs": torch.zeros(2, 3, 4, 4, dtype=torch.uint8)}, bad)
    with pytest.raises(EpisodeFileError, match="missing keys"):
        Episode.load(bad)
    d = random_episode(3).to_file_dict()
    d["act"] = torch.zeros(5, dtype=torch.long)
    torch.save(d, bad)
    with pytest.raises(EpisodeFileError, match="act must be"):
        Episode.load(bad)


def test_validation_and_append():
    ep = random_episode(5)
    with pytest.raises(ValueError, match="obs must be uint8"):
        Episode(ep.obs.float(), ep.act, ep.rew, ep.end, ep.trunc)
    bad_end = ep.end.clone()
    bad_end[1] = 1
    with pytest.raises(ValueError, match="only the last step"):
        Episode(ep.obs, ep.act, ep.rew, bad_end, ep.trunc)
    tail = random_episode(3, end=True, seed=1)
    full = ep.append(tail)
    assert len(full) == 8 and full.is_finished and torch.equal(full.final_observation, tail.final_observation)
    with pytest.raises(ValueError, match="cannot extend"):
        full.append(ep)
    head = full.head(5)
    assert_episodes_equal(head, ep)
    closed = ep.with_truncation()
    assert closed.trunc[-1] == 1 and closed.end[-1] == 0 and ep.trunc[-1] == 0
