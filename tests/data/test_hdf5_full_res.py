"""Full-resolution frames read from the original CS:GO hdf5 files during training (`Hdf5FullResFrames`): each
segment's `Batch.full_res` is that segment's frames of the episode's hdf5 file, with 0 and N DataLoader workers."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")

import h5py

from diamond_wm.conversion.csgo_convert import convert_csgo
from diamond_wm.conversion.synthetic import write_csgo_episode
from diamond_wm.data import Episode, EpisodeDataset, to_float_frames
from diamond_wm.data.hdf5_full_res import Hdf5FullResFrames
from diamond_wm.data.loader import SegmentLoader
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.data.traverser import DatasetTraverser
from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.training import build

FULL = (30, 50, 3)  # (H, W, BGR): small full-resolution frames, read as the published 150x280 ones


def hdf5_rgb(path: Path, start: int, stop: int) -> torch.Tensor:
    """uint8 (n, 3, H, W) RGB frames start .. stop-1, read plainly with h5py."""
    with h5py.File(path, "r") as f:
        bgr = np.stack([f[f"frame_{i}_x"][()] for i in range(start, stop)])
    return torch.from_numpy(bgr[..., ::-1].copy()).permute(0, 3, 1, 2)


def expected_full_res(frames: Hdf5FullResFrames, batch) -> torch.Tensor:
    """What `batch.full_res` must hold: each segment's hdf5 frames in [-1, 1], 0.0 where padded."""
    out = torch.zeros_like(batch.full_res)
    for i, (episode_id, start, stop) in enumerate(batch.segment_ids):
        path, first = frames.source(episode_id)
        lo, hi = max(0, start), min(int(frames.lengths[episode_id]), stop)
        out[i, lo - start : hi - start] = to_float_frames(hdf5_rgb(path, first + lo, first + hi))
    return out


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A tar of 3 synthetic episodes (9, 7 and 11 frames), converted, and the tar extracted as published
    (`1-3/`)."""
    root = tmp_path_factory.mktemp("csgo")
    tars = root / "tars"
    for n, num_frames in ((1, 9), (2, 7), (3, 11)):
        write_csgo_episode(
            root / "hdf5" / "1-3" / f"hdf5_dm_july2021_{n}.hdf5", num_frames, seed=n, frame_shape=FULL
        )
    tars.mkdir()
    with tarfile.open(tars / "hdf5_dm_july2021_1_to_3.tar", "w") as tar:
        for path in sorted((root / "hdf5" / "1-3").iterdir()):
            tar.add(path, arcname=path.name)
    convert_csgo(tars, root / "out", test_split="every:3", progress=False)
    return root


@pytest.mark.parametrize("workers", [0, 2])
def test_each_segment_gets_its_own_hdf5_frames(converted, workers):
    low = EpisodeDataset(converted / "out" / "low_res" / "train", cache_in_ram=False, read_only=True)
    frames = Hdf5FullResFrames(converted / "hdf5", low)
    assert frames.frame_shape == (3, 30, 50)
    sampler = SegmentSampler(low, 8, 3, None, generator=torch.Generator().manual_seed(0))
    if workers == 0:
        batches = [sampler.sample(full_res_dataset=frames) for _ in range(3)]
    else:
        loader = SegmentLoader(sampler, workers, full_res_dataset=frames)
        loader.prepare(3)
        batches = [loader() for _ in range(3)]
    ids = [sid for b in batches for sid in b.segment_ids]
    assert len({sid.episode_id for sid in ids}) == low.num_episodes  # every episode, and
    assert any(sid.start < 0 for sid in ids)  # left padding, are covered
    for batch in batches:
        assert batch.full_res.shape == (8, 3, 3, 30, 50)
        assert torch.equal(batch.full_res, expected_full_res(frames, batch))
        assert batch.full_res.abs().sum() > 0


def test_episodes_name_their_file_and_first_frame(tmp_path):
    # An episode cut from the middle of a file (frames 4 .. 9): step t is frame 4 + t; one from another file by
    # name alone (its folder differs); the pickled copy (a spawned worker) reads the same without the parent's
    # handles.
    write_csgo_episode(tmp_path / "hdf5" / "a" / "x.hdf5", 12, seed=1, frame_shape=FULL)
    write_csgo_episode(tmp_path / "hdf5" / "b" / "y.hdf5", 5, seed=2, frame_shape=FULL)
    low = EpisodeDataset(tmp_path / "low", action_spec=csgo_action_spec())
    for n, info in (
        (6, {"original_file_id": "a/x.hdf5", "original_first_frame": 4}),
        (5, {"original_file_id": "elsewhere/y.hdf5"}),
    ):
        act = torch.zeros(n, 51)
        act[:, 13], act[:, 36] = 1, 1  # one mouse-x and one mouse-y bin
        z = torch.zeros(n, dtype=torch.uint8)
        low.add_episode(Episode(torch.zeros(n, 3, 6, 10, dtype=torch.uint8), act, torch.zeros(n), z, z, info))
    frames = Hdf5FullResFrames(tmp_path / "hdf5", low)
    assert torch.equal(frames.read_frames(0, 1, 6), hdf5_rgb(tmp_path / "hdf5/a/x.hdf5", 5, 10))
    assert torch.equal(frames.read_frames(1, 0, 5), hdf5_rgb(tmp_path / "hdf5/b/y.hdf5", 0, 5))
    copy = pickle.loads(pickle.dumps(frames))
    assert copy._open_files == {} and copy._low_res is None
    assert torch.equal(copy.read_frames(0, 0, 2), hdf5_rgb(tmp_path / "hdf5/a/x.hdf5", 4, 6))
    batch = next(iter(DatasetTraverser(low, 4, 4, frames)))  # test losses: chunks [0, 4), [4, 8) right-padded
    assert torch.equal(batch.full_res, expected_full_res(frames, batch))
    frames.close()
    copy.close()


def test_training_reads_a_folder_of_hdf5_files_and_names_what_does_not_fit(converted, tmp_path):
    train = EpisodeDataset(converted / "out" / "low_res" / "train", read_only=True)
    test = EpisodeDataset(converted / "out" / "low_res" / "test", read_only=True)
    full_train, full_test = build.full_res_datasets(str(converted / "hdf5"), train, test)
    assert isinstance(full_train, Hdf5FullResFrames) and isinstance(full_test, Hdf5FullResFrames)
    assert full_test.source(0)[0].name == "hdf5_dm_july2021_3.hdf5"  # every:3 puts the third file in test
    # A folder without the episodes' files: one line naming the episode and the file it came from.
    write_csgo_episode(tmp_path / "other" / "1-3" / "unrelated.hdf5", 3, frame_shape=FULL)
    with pytest.raises(ValueError) as e:
        build.full_res_datasets(str(tmp_path / "other"), train, test)
    msg = str(e.value)
    assert msg.startswith(f"static_dataset.full_res_path={tmp_path / 'other'}: episode ")
    assert "'1-3/hdf5_dm_july2021_1.hdf5', not found below" in msg and "\n" not in msg
    # A file shorter than its episode: the missing frame is named.
    short = tmp_path / "short" / "1-3" / "hdf5_dm_july2021_1.hdf5"
    write_csgo_episode(short, 4, seed=1, frame_shape=FULL)
    frames = Hdf5FullResFrames(tmp_path / "short", train)
    with pytest.raises(ValueError, match=r"hdf5_dm_july2021_1.hdf5: no frame_8_x \(frames 2 .. 8 wanted\)"):
        frames.read_frames(0, 2, 9)
