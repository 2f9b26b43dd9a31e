"""Dataset mode (`DatasetBrowser`) driven by commands, on the datasets of a tiny trained run."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.interactive.commands import BROWSE_BINDINGS, Command, KeyDown
from diamond_wm.loading.agent import LoadError


def test_dataset_mode_navigation(tiny_run):
    browser = build_dataset_browser(tiny_run, ["NOOP", "LEFT", "RIGHT"])
    assert [n for n, _ in browser.datasets] == ["test", "train"]
    assert browser.bindings is BROWSE_BINDINGS and not browser.update()
    assert (browser.name, browser.episode_id, browser.t) == ("test", 0, 0)
    browser.handle(Command.NEXT_STEP)
    assert browser.t == 1
    browser.handle(Command.FORWARD_10)
    assert browser.t == 11
    browser.handle(Command.PREV_STEP)
    assert browser.t == 10
    browser.handle(Command.BACK_10)
    assert browser.t == 0
    browser.handle(Command.PREV_STEP)
    assert browser.t == len(browser.episode) - 1  # wraps around
    browser.handle(Command.FIRST_STEP)
    assert browser.t == 0
    browser.handle(Command.NEXT_EPISODE)
    assert browser.episode_id == 1 and browser.t == 0
    browser.handle(Command.PREV_EPISODE)
    browser.handle(Command.PREV_EPISODE)
    assert browser.episode_id == browser.dataset.num_episodes - 1
    browser.handle(Command.NEXT_DATASET)
    assert (browser.name, browser.episode_id) == ("train", 0)
    assert torch.equal(browser.frame, browser.dataset.load_episode(0).obs[0].float() / 255 * 2 - 1)
    header = "\n".join(line for col in browser.header() for line in col)
    assert "Dataset: train" in header and "Episode: 0 / " in header and "Action: " in header
    browser.handle(Command.RESET)  # a play command, a game key: ignored
    browser.handle(KeyDown("m"))
    browser.release_all()
    assert (browser.name, browser.episode_id, browser.t) == ("train", 0, 0)
    browser.handle(Command.NEXT_DATASET)
    assert browser.name == "test"


def test_controls_help_lists_the_keys_by_name(tiny_run):
    lines = build_dataset_browser(tiny_run).controls_help()
    assert lines == [
        "Controls (dataset mode):",
        "  m         : next dataset (test / train)",
        "  right     : next episode",
        "  left      : previous episode",
        "  up        : next timestep",
        "  down      : previous timestep",
        "  page up   : +10 timesteps",
        "  page down : -10 timesteps",
        "  return    : first timestep",
    ]


def test_dataset_mode_without_datasets_names_the_folder(tmp_path):
    with pytest.raises(LoadError, match="no dataset to browse: .*dataset does not exist"):
        build_dataset_browser(tmp_path)
