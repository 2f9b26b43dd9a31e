"""What an import never does: replace an import made with other settings unasked, leave staged files behind after a
refusal, or lose what an interrupt left (a rerun resumes)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

from diamond_wm.config.actions import ActionSpec
from diamond_wm.conversion.synthetic import write_action_log, write_video
from diamond_wm.data import EpisodeDataset
from diamond_wm.datasets import video_import
from diamond_wm.datasets.video_import import import_videos
from tests.datasets.conftest import tree_bytes

SPEC = ActionSpec.discrete(4)


def make_game(folder, lengths=(10, 7), ends=((4,), ())):
    for v, (n, end_rows) in enumerate(zip(lengths, ends, strict=True)):
        write_video(
            folder / f"game{v}.mp4", np.random.default_rng(v).integers(0, 256, (n, 16, 16, 3), np.uint8)
        )
        rows = [{"frame": i, "action": i % 4, "end": int(i in end_rows)} for i in range(n)]
        write_action_log(folder / f"game{v}.csv", rows)
    return folder


def run(videos, out, **kwargs):
    args = dict(actions="csv", action_spec=SPEC, size=(8, 8), test_fraction=0.34, progress=False) | kwargs
    return import_videos(videos, out, **args)


def all_files(root):
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    "change, fragment",
    [
        (dict(size=(4, 4)), "--size 8x8 (now 4x4)"),
        (dict(full_res_size=(16, 16)), "--full-res-size none (now 16x16)"),
        (dict(action_spec=ActionSpec.discrete(5)), "--action-spec 4 actions (now 5 actions)"),
        (dict(action_spec=ActionSpec.discrete(4, ["A", "B", "C", "D"])), "--action-spec 4 actions, {"),
        ("other videos", "videos from "),
    ],
)
def test_another_import_into_the_folder_is_refused_unless_overwrite(tmp_path, change, fragment):
    videos, out = make_game(tmp_path / "videos"), tmp_path / "out"
    run(videos, out)
    before = all_files(out)
    if change == "other videos":
        change = {"video_dir": make_game(tmp_path / "other", lengths=(5,), ends=((),))}
    kwargs = dict(change)
    source = kwargs.pop("video_dir", videos)
    with pytest.raises(ValueError) as info:
        run(source, out, **kwargs)
    text = str(info.value)
    assert text.startswith(f"{out} holds datasets imported with other settings: ") and fragment in text
    assert text.endswith("give a new folder, or --overwrite to replace them") and len(text.splitlines()) == 1
    assert all_files(out) == before  # untouched
    replaced = run(source, out, overwrite=True, **kwargs)
    assert replaced.converted == replaced.episodes["train"] + replaced.episodes["test"]
    fresh = run(source, tmp_path / "fresh", **kwargs)
    assert fresh.converted == replaced.converted
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")  # nothing of the old import is left


def test_overwrite_replaces_a_full_resolution_copy_too(tmp_path):
    videos, out = make_game(tmp_path / "videos"), tmp_path / "out"
    run(videos, out, full_res_size=(16, 16))
    run(videos, out, size=(4, 4), overwrite=True)
    assert sorted(p.name for p in out.iterdir()) == [".staging", "conversion.json", "low_res"]
    assert EpisodeDataset(out / "low_res" / "train", read_only=True).frame_shape == (3, 4, 4)


def test_a_spreadsheet_csv_with_a_byte_order_mark_is_read(tmp_path):
    videos = make_game(tmp_path / "videos", lengths=(6,), ends=((),))
    log = videos / "game0.csv"
    log.write_bytes(b"\xef\xbb\xbf" + log.read_bytes().replace(b"\n", b"\r\n"))  # as Excel saves "CSV UTF-8"
    summary = run(videos, tmp_path / "out")
    assert summary.steps == {"train": 6, "test": 0}


def test_a_refused_import_leaves_nothing_staged(tmp_path, monkeypatch):
    videos, out = make_game(tmp_path / "videos"), tmp_path / "out"
    write_action_log(videos / "game1.csv", [{"frame": i, "action": 0} for i in range(5)])  # 7 frames, 5 rows
    with pytest.raises(ValueError, match=r"game1.mp4: frame 5 has no row in "):
        run(videos, out)
    assert not out.exists()  # checked before anything was written
    make_game(videos)
    real = video_import.video_episodes

    def damaged(video, *args):  # a frame that cannot be decoded, after the first episode of game1 was staged
        for item in real(video, *args):
            yield item
            if video.name == "game1.mp4":
                raise ValueError(f"{video}: frame 3: unreadable")

    monkeypatch.setattr(video_import, "video_episodes", damaged)
    with pytest.raises(ValueError, match="game1.mp4: frame 3: unreadable"):
        run(videos, out)
    assert not out.exists()  # the episodes staged by the refused run are gone, and the folder it made


def test_an_interrupted_import_resumes_to_the_files_of_an_uninterrupted_one(tmp_path, monkeypatch):
    videos, out = make_game(tmp_path / "videos"), tmp_path / "out"
    real = video_import.video_episodes

    def interrupted(video, *args):
        for item in real(video, *args):
            yield item
            if video.name == "game1.mp4":
                raise KeyboardInterrupt

    monkeypatch.setattr(video_import, "video_episodes", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(videos, out)
    assert len(list((out / ".staging" / "meta").iterdir())) == 3  # kept: game0's two episodes and game1's
    monkeypatch.setattr(video_import, "video_episodes", real)
    resumed = run(videos, out)
    assert (resumed.converted, resumed.already_done) == (0, 3)
    run(videos, tmp_path / "fresh")
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")


def test_an_edit_that_changes_the_episodes_is_laid_out_again(tmp_path):
    """game0 gets a second end: its episodes change, the others move; the stale copies are not reused."""
    videos, out = make_game(tmp_path / "videos"), tmp_path / "out"
    run(videos, out)
    rows = [{"frame": i, "action": 3 - i % 4, "end": int(i in (4, 7))} for i in range(10)]
    write_action_log(videos / "game0.csv", rows)
    edited = run(videos, out)
    assert (edited.converted, edited.already_done) == (3, 1)  # game0's three episodes; game1's is kept
    run(videos, tmp_path / "fresh")
    assert tree_bytes(out) == tree_bytes(tmp_path / "fresh")
    assert not list((out / ".staging").rglob("*.pt"))  # every staged episode was laid out, none left stale
