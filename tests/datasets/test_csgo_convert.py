"""`convert_csgo`: published CS:GO hdf5 episodes (in tars or a folder) -> low-res (and full-res) datasets."""

from __future__ import annotations

import json
import platform
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")

import h5py

from diamond_wm.conversion import csgo_convert, staging
from diamond_wm.conversion.csgo_convert import convert_csgo
from diamond_wm.conversion.csgo_hdf5 import hdf5_file_index
from diamond_wm.conversion.resize import published_uint8, resize_float, resize_frames
from diamond_wm.conversion.synthetic import write_csgo_episode, write_csgo_tar
from diamond_wm.data import EpisodeDataset
from diamond_wm.data.published_layout import episode_relpath
from diamond_wm.envs.csgo.actions import csgo_action_spec
from tests.datasets.conftest import NUM_FRAMES, tree_bytes


def reference_low_res(path: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The published recipe, frame by frame: BGR -> RGB, [-1, 1], bicubic with antialiasing, then `Episode.save`'s
    `.add(1).div(2).mul(255).byte()` (truncated; on x86, out-of-range values wrap modulo 256)."""
    frames, actions = [], []
    with h5py.File(path, "r") as f:
        for i in range(NUM_FRAMES):
            x = torch.tensor(f[f"frame_{i}_x"][:]).flip(2).permute(2, 0, 1).div(255).mul(2).sub(1)
            y = F.interpolate(x[None], size=(30, 56), mode="bicubic", align_corners=False, antialias=True)[0]
            frames.append(y.add(1).div(2).mul(255).byte())
            actions.append(torch.tensor(f[f"frame_{i}_y"][:], dtype=torch.float32))
    return torch.stack(frames), torch.stack(actions)


def extract(tars: Path, dest: Path) -> Path:
    """The published converter's extraction: each `..._<a>_to_<b>.tar` into `dest/<a>-<b>/`."""
    with tarfile.open(tars / "hdf5_dm_july2021_1_to_3.tar") as t:
        t.extractall(dest / "1-3", filter="data")
    return dest


def test_tar_converted_as_the_published_converter_does(csgo_tars, tmp_path, monkeypatch):
    monkeypatch.setattr(csgo_convert, "CHUNK_FRAMES", 5)  # 12 frames in chunks of 5, 5, 2: as frame by frame
    out = tmp_path / "out"
    summary = convert_csgo(csgo_tars, out, progress=False)
    assert (summary.converted, summary.already_done, summary.failed) == (3, 0, [])
    assert summary.frames_converted == 3 * NUM_FRAMES
    originals = extract(csgo_tars, tmp_path / "full")
    # The published test_split.txt lists hdf5_dm_july2021_3.hdf5 (not 1 or 2).
    expected = {
        "train": ["1-3/hdf5_dm_july2021_1.hdf5", "1-3/hdf5_dm_july2021_2.hdf5"],
        "test": ["1-3/hdf5_dm_july2021_3.hdf5"],
    }
    for split, ids in expected.items():
        ds = EpisodeDataset(out / "low_res" / split, read_only=True)
        assert ds.num_episodes == len(ids) and ds.action_spec == csgo_action_spec()
        assert list(ds.lengths) == [NUM_FRAMES] * len(ids) and ds.is_static
        for i, file_id in enumerate(ids):
            ep = ds.load_episode(i)
            obs, act = reference_low_res(originals / file_id)
            assert ep.info == {"original_file_id": file_id, "original_first_frame": 0}
            assert torch.equal(ep.obs, obs) and torch.equal(ep.act, act)
            assert not ep.rew.any() and not ep.end.any() and not ep.trunc.any()


def test_frames_are_truncated_and_wrapped_as_the_published_converter_stored_them():
    """Where rounding and the published truncation differ: a flat 200 resizes to 199.99998 (199, not 200), a flat
    1 to 0.99999994 (0), and bicubic overshoot past 255 wraps around (258.5 -> 2) instead of clamping."""
    flat = torch.full((1, 3, 10, 10), 200, dtype=torch.uint8)
    assert csgo_convert.downsample(flat, (2, 2))[0, 0].flatten().tolist() == [199, 199, 199, 200]
    assert resize_frames(flat, (2, 2))[0, 0].flatten().tolist() == [200, 200, 200, 200]  # import: nearest
    one = torch.full((1, 3, 5, 5), 1, dtype=torch.uint8)
    assert csgo_convert.downsample(one, (1, 1)).flatten().tolist() == [0, 0, 0]
    stripes = torch.full((1, 3, 10, 10), 255, dtype=torch.uint8)
    stripes[..., 3:5] = 0  # white, a black stripe, white: overshoot on both sides of it
    levels = resize_float(stripes, (2, 4)).add(1).div(2).mul(255)[0, 0, 0]
    assert levels[0] > 255 and levels[3] > 256  # 255.55, 258.47
    assert csgo_convert.downsample(stripes, (2, 4))[0, 0, 0].tolist() == [255, 74, 229, 2]
    assert resize_frames(stripes, (2, 4))[0, 0, 0].tolist() == [255, 74, 230, 255]
    if platform.machine().lower() in (
        "x86_64",
        "amd64",
    ):  # what the published `.byte()` gave there (elsewhere
        x = torch.linspace(-1.5, 1.5, 200001)  # float-to-uint8 conversion may saturate instead of wrapping)
        assert torch.equal(published_uint8(x), x.add(1).div(2).mul(255).byte())


def test_a_conversion_with_rounded_frames_is_converted_again(csgo_tars, tmp_path):
    """Episodes staged before frames were made the published way (rounded) are not mixed with new ones."""
    out = tmp_path / "out"
    convert_csgo(csgo_tars, out, progress=False)
    for path in [out / "conversion.json", *(out / ".staging" / "meta").iterdir()]:
        d = json.loads(path.read_text())
        del d["settings"]["frames"]  # as the rounding version recorded them
        path.write_text(json.dumps(d))
    summary = convert_csgo(csgo_tars, out, progress=False)
    assert (summary.converted, summary.already_done) == (3, 0)
    convert_csgo(csgo_tars, tmp_path / "fresh", progress=False)
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")


def test_antialiasing_matters(csgo_tars, tmp_path):
    """The reference above would not catch a converter without antialiasing if the two agreed: they do not."""
    originals = extract(csgo_tars, tmp_path / "full")
    with h5py.File(originals / "1-3/hdf5_dm_july2021_1.hdf5") as f:
        x = torch.tensor(f["frame_0_x"][:]).permute(2, 0, 1)[None].float()
    plain = F.interpolate(x, size=(30, 56), mode="bicubic", align_corners=False)
    aa = F.interpolate(x, size=(30, 56), mode="bicubic", align_corners=False, antialias=True)
    assert (plain - aa).abs().max() > 10


def test_folder_of_hdf5_files_gives_the_same_episodes_and_full_res_is_found_by_id(csgo_tars, tmp_path):
    from_tar, from_folder = tmp_path / "a", tmp_path / "b"
    convert_csgo(csgo_tars, from_tar, progress=False, full_res_copy=True)
    originals = extract(csgo_tars, tmp_path / "full")
    summary = convert_csgo(originals, from_folder, progress=False)
    assert f"env.path_data_full_res={originals}" in "\n".join(summary.lines())
    a, b = tree_bytes(from_tar / "low_res"), tree_bytes(from_folder / "low_res")
    assert a == b and len(a) == 3 + 4  # 3 episodes, 2 x (info.pt, action_spec.json)
    index = hdf5_file_index(originals)
    full = EpisodeDataset(from_tar / "full_res" / "train", read_only=True)
    low = EpisodeDataset(from_folder / "low_res" / "train", read_only=True)
    for i in range(low.num_episodes):
        path = index[low.load_episode(i).info["original_file_id"]]
        with h5py.File(path) as f:
            frames = np.stack([f[f"frame_{t}_x"][:] for t in range(NUM_FRAMES)])[..., ::-1]  # BGR -> RGB
        assert torch.equal(full.load_episode(i).obs, torch.from_numpy(frames.copy()).permute(0, 3, 1, 2))
        assert torch.equal(full.load_episode(i).act, low.load_episode(i).act)


def test_two_workers_write_the_same_bytes_as_one(csgo_tars, tmp_path):
    convert_csgo(csgo_tars, tmp_path / "w1", workers=1, full_res_copy=True, progress=False)
    summary = convert_csgo(csgo_tars, tmp_path / "w2", workers=2, full_res_copy=True, progress=False)
    assert summary.converted == 3
    one, two = tree_bytes(tmp_path / "w1"), tree_bytes(tmp_path / "w2")
    assert one == two and len(one) == 2 * (3 + 4)


def test_interrupted_then_resumed_equals_an_uninterrupted_conversion(csgo_tars, tmp_path, monkeypatch):
    reference, out = tmp_path / "reference", tmp_path / "out"
    convert_csgo(csgo_tars, reference, progress=False)
    calls = []
    real = csgo_convert.convert_episode

    def interrupted(*args, **kwargs):
        calls.append(args[1])
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second episode is read
        return real(*args, **kwargs)

    monkeypatch.setattr(csgo_convert, "convert_episode", interrupted)
    with pytest.raises(KeyboardInterrupt):
        convert_csgo(csgo_tars, out, progress=False)
    assert not (out / "low_res").exists() and not (out / "conversion.json").exists()  # no dataset yet
    staged = sorted((out / ".staging" / "low_res").iterdir())
    assert [p.name for p in staged] == ["1-3%2Fhdf5_dm_july2021_1.hdf5.pt"]
    # A hard kill in the middle of a write leaves a temporary file: removed, never read as an episode.
    (out / ".staging" / "low_res" / ".1-3%2Fhdf5_dm_july2021_2.hdf5.pt.x1y2.tmp").write_bytes(
        b"half an episode"
    )
    calls.clear()
    monkeypatch.setattr(csgo_convert, "convert_episode", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    summary = convert_csgo(csgo_tars, out, progress=False)
    assert calls == ["1-3/hdf5_dm_july2021_2.hdf5", "1-3/hdf5_dm_july2021_3.hdf5"]  # the first one is skipped
    assert (summary.converted, summary.already_done) == (2, 1)
    assert tree_bytes(out) == tree_bytes(reference) and len(tree_bytes(out)) == 3 + 4
    assert not list(out.rglob("*.tmp"))
    calls.clear()
    summary = convert_csgo(csgo_tars, out, progress=False)  # finished: a rerun converts nothing
    assert calls == [] and (summary.converted, summary.already_done) == (0, 3)
    assert tree_bytes(out) == tree_bytes(reference)


def test_crash_while_laying_out_the_datasets_is_repaired_by_the_next_run(csgo_tars, tmp_path, monkeypatch):
    reference, out = tmp_path / "reference", tmp_path / "out"
    convert_csgo(csgo_tars, reference, progress=False)
    real = staging.write_index

    def crash(*args, **kwargs):
        raise KeyboardInterrupt  # after the train episodes were moved into place, before any index

    monkeypatch.setattr(staging, "write_index", crash)
    with pytest.raises(KeyboardInterrupt):
        convert_csgo(csgo_tars, out, progress=False)
    assert json.loads((out / "conversion.json").read_text())["state"] == "finalizing"
    assert (out / "low_res" / "train" / episode_relpath(1)).is_file()
    monkeypatch.setattr(staging, "write_index", real)
    summary = convert_csgo(csgo_tars, out, progress=False)
    assert summary.converted == 0 and json.loads((out / "conversion.json").read_text())["state"] == "complete"
    assert tree_bytes(out) == tree_bytes(reference)


def test_more_input_files_later_convert_only_the_new_ones(csgo_tars, tmp_path):
    tars = tmp_path / "tars"
    shutil.copytree(csgo_tars, tars)
    out = tmp_path / "out"
    convert_csgo(tars, out, progress=False, test_split="every:2")
    write_csgo_tar(tars, 4, 5, NUM_FRAMES)
    summary = convert_csgo(tars, out, progress=False, test_split="every:2")
    assert (summary.converted, summary.already_done) == (2, 3)
    assert summary.episodes == {"train": 3, "test": 2}  # files 2 and 4 are test files now
    fresh = tmp_path / "fresh"
    convert_csgo(tars, fresh, progress=False, test_split="every:2")
    assert tree_bytes(out) == tree_bytes(fresh)


def test_test_split_from_a_file(csgo_tars, tmp_path):
    names = tmp_path / "split.txt"
    names.write_text("hdf5_dm_july2021_1.hdf5\nhdf5_dm_july2021_2.hdf5\n")
    summary = convert_csgo(csgo_tars, tmp_path / "out", progress=False, test_split=str(names))
    assert summary.episodes == {"train": 1, "test": 2}
    test = EpisodeDataset(tmp_path / "out" / "low_res" / "test", read_only=True)
    assert [test.load_episode(i).info["original_file_id"] for i in range(2)] == [
        "1-3/hdf5_dm_july2021_1.hdf5",
        "1-3/hdf5_dm_july2021_2.hdf5",
    ]
    assert str(names) in summary.test_split.description


def test_a_damaged_file_is_named_and_the_others_are_converted(tmp_path):
    folder = tmp_path / "in" / "1-3"
    write_csgo_episode(folder / "hdf5_dm_july2021_1.hdf5", NUM_FRAMES, seed=1)
    with h5py.File(write_csgo_episode(folder / "hdf5_dm_july2021_2.hdf5", NUM_FRAMES, seed=2), "a") as f:
        del f["frame_5_y"]
    with h5py.File(write_csgo_episode(folder / "hdf5_dm_july2021_3.hdf5", NUM_FRAMES, seed=3), "a") as f:
        y = f["frame_7_y"][:]
        y[13:16] = 1  # three mouse-x bins at once
        f["frame_7_y"][...] = y
    (folder / "hdf5_dm_july2021_4.hdf5").write_bytes(b"not an hdf5 file")
    summary = convert_csgo(tmp_path / "in", tmp_path / "out", progress=False, test_split="every:10")
    assert summary.converted == 1 and len(summary.failed) == 3
    assert "hdf5_dm_july2021_2.hdf5: frame_5_y missing" in summary.failed[0]
    assert "hdf5_dm_july2021_3.hdf5: frame_7_y:" in summary.failed[1] and "mouse_x" in summary.failed[1]
    assert "hdf5_dm_july2021_4.hdf5" in summary.failed[2]
    assert EpisodeDataset(tmp_path / "out" / "low_res" / "train", read_only=True).num_episodes == 1
    assert all(line.startswith("failed: ") for line in summary.lines()[-3:])


def test_an_output_folder_holding_other_files_is_refused(csgo_tars, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="holds notes.txt, not written by diamond dataset"):
        convert_csgo(csgo_tars, tmp_path / "out", progress=False)


def test_another_test_split_later_lays_the_datasets_out_again_without_converting(csgo_tars, tmp_path):
    out, fresh = tmp_path / "out", tmp_path / "fresh"
    convert_csgo(csgo_tars, out, progress=False)
    summary = convert_csgo(csgo_tars, out, progress=False, test_split="every:2")
    assert (summary.converted, summary.already_done) == (0, 3) and summary.episodes == {"train": 2, "test": 1}
    convert_csgo(csgo_tars, fresh, progress=False, test_split="every:2")
    assert tree_bytes(out) == tree_bytes(fresh)
    test = EpisodeDataset(out / "low_res" / "test", read_only=True)
    assert test.load_episode(0).info["original_file_id"] == "1-3/hdf5_dm_july2021_2.hdf5"
