"""Truncated or corrupted files: one line naming the file and what to do; `diamond play -d` shows the error in
its window and keeps browsing the other episodes."""

from __future__ import annotations

from pathlib import Path

import pygame
import pytest

from diamond_wm.cli.main import main
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import EpisodeFileError
from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.play.window import PlayWindow
from tests.conftest import run_cli
from tests.play.test_play_session import press
from tests.reliability.conftest import error_lines, one_line


def episode_file(run: Path, split: str, i: int) -> Path:
    return EpisodeDataset(run / "dataset" / split, read_only=True).episode_path(i)


def truncate(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def test_truncated_episode_file_is_one_line_with_what_to_do(run_copy):
    path = truncate(episode_file(run_copy, "train", 1))
    with pytest.raises(EpisodeFileError) as info:
        Episode.load(path)
    message = str(info.value)
    assert message.startswith(f"episode file {path}: unreadable: truncated (")
    assert message.endswith("restore it from a copy") and "\n" not in message


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "the file is empty"), (b"garbage" * 10, "not a PyTorch file")],
)
def test_empty_or_foreign_episode_file(run_copy, content, reason):
    path = episode_file(run_copy, "test", 0)
    path.write_bytes(content)
    with pytest.raises(EpisodeFileError, match=reason) as info:
        Episode.load(path)
    assert str(path) in str(info.value) and "weights_only" not in str(info.value)


def test_dataset_mode_shows_the_error_and_keeps_browsing(run_copy, tmp_path):
    bad = truncate(episode_file(run_copy, "test", 1))
    browser = build_dataset_browser(run_copy)
    window = PlayWindow(browser, size=128, fps=0)
    window.open()
    try:
        press(window)
        assert (browser.name, browser.episode_id, browser.error) == ("test", 0, None)
        press(window, pygame.K_RIGHT)  # the truncated episode
        assert browser.episode_id == 1 and browser.frame is None
        assert browser.error.startswith(f"episode file {bad}: unreadable: truncated")
        header = "\n".join(line for col in browser.header() for line in col)
        assert "Episode: 1 / 3" in header and "UNREADABLE" in header
        assert "".join(window.message_lines()).replace(" ", "") == browser.error.replace(" ", "")
        press(window, pygame.K_UP, pygame.K_PAGEUP, pygame.K_RETURN)  # no crash on timestep keys
        shot = pygame.surfarray.array3d(pygame.image.load(str(window.save_screenshot(tmp_path / "e.png"))))
        fx, fy, fw, fh = window.frame_rect
        assert (shot[fx + 2 : fx + fw - 2, fy + 2 : fy + fh - 2] != 0).any()  # the error is drawn
        press(window, pygame.K_RIGHT)  # the next episode is readable again
        assert browser.episode_id == 2 and browser.error is None and browser.frame is not None
        press(window, pygame.K_LEFT, pygame.K_LEFT)
        assert browser.episode_id == 0 and browser.frame is not None
    finally:
        window.close()


def test_dataset_mode_starting_on_an_unreadable_episode(run_copy, capsys):
    bad = truncate(episode_file(run_copy, "test", 0))
    assert main(["-q", "play", "-d", str(run_copy), "--max-frames", "3", "--size", "64"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"episode file {bad}: unreadable: truncated" in one_line(err)


def test_play_with_a_truncated_initial_condition_is_one_line(run_copy):
    """Play mode draws the world model's starting frames from the run's train episodes: one of them is cut."""
    for i in range(EpisodeDataset(run_copy / "dataset" / "train", read_only=True).num_episodes):
        truncate(episode_file(run_copy, "train", i))
    res = run_cli("-q", "play", str(run_copy), "--max-frames", "3", "--size", "64", timeout=120)
    assert res.returncode == 2, res.stderr
    line = one_line("\n".join(error_lines(res.stderr)))
    assert line.startswith("diamond play: episode file ") and "unreadable: truncated" in line
    assert line.endswith("restore it from a copy")


def test_corrupted_checkpoint_in_eval(run_copy, capsys):
    ckpt = sorted((run_copy / "checkpoints" / "agent_versions").iterdir())[-1]
    truncate(ckpt)
    assert main(["-q", "eval", str(ckpt)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("diamond eval: error: cannot read ") and str(ckpt) in line and "truncated" in line


def test_truncated_training_state_on_resume(run_copy, capsys):
    (run_copy / "FINISHED").unlink()
    state = truncate(run_copy / "checkpoints" / "state.pt")
    assert main(["-q", "train", "--resume", str(run_copy)]) == 2
    line = one_line(capsys.readouterr().err)
    assert line == (
        f"diamond train: cannot resume {run_copy}: cannot read {state}: truncated ({state.stat().st_size} bytes: "
        "the end of its zip archive is missing); restore it from a copy"
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_shows_the_traceback(where, run_copy, capsys):
    ckpt = truncate(sorted((run_copy / "checkpoints" / "agent_versions").iterdir())[-1])
    args = ["--debug", "-q", "eval", str(ckpt)] if where == "before" else ["-q", "eval", str(ckpt), "--debug"]
    with pytest.raises(Exception, match="truncated"):  # in a terminal: the traceback
        main(args)
    (run_copy / "FINISHED").unlink()
    truncate(run_copy / "checkpoints" / "state.pt")
    args = ["--debug", "-q", "train"] if where == "before" else ["-q", "train", "--debug"]
    with pytest.raises(ValueError, match="truncated"):
        main([*args, "--resume", str(run_copy)])
    capsys.readouterr()
