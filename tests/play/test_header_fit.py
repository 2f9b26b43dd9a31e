"""The window's header: texts never run into the next column (a long dataset name is shortened in the middle, over
the width the empty lines beside it leave); dataset mode names the actions as the dataset recorded them."""

from __future__ import annotations

import shutil

from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.play.window import PlayWindow, fit_text
from tests.play.static_runs import SPEC, write_recorded_game

LONG = "my_recorded_breakout_games_from_last_weekend_full_quality"


def test_fit_text_keeps_the_label_and_the_end_of_the_value():
    assert fit_text("Reward: 1.00", 20, len) == "Reward: 1.00"
    short = fit_text(f"Dataset: {LONG}", 30, len)
    assert len(short) <= 30 and short.startswith("Dataset: my_") and short.endswith("full_quality")
    assert "..." in short
    assert (
        fit_text("abcdefghijklmnop", 10, len) == "ab...lmnop"
    )  # no label: the text itself, a third of it from its start
    assert fit_text("abc", 2, len) == "..."


class RecordingFont:
    """The window's font, recording each text it renders and its width."""

    def __init__(self, font):
        self.font, self.rendered = font, []

    def size(self, text):
        return self.font.size(text)

    def render(self, text, *args):
        self.rendered.append(text)
        return self.font.render(text, *args)


def test_a_long_dataset_name_does_not_run_into_the_next_columns(tmp_path, headless):
    game = write_recorded_game(tmp_path / "game")
    (tmp_path / "dataset").mkdir()
    shutil.copytree(game / "train", tmp_path / "dataset" / LONG)
    browser = build_dataset_browser(tmp_path)
    window = PlayWindow(browser, size=64, fps=0)
    window.open()
    try:
        window.font = font = RecordingFont(window.font)
        window.draw()
        columns = browser.header()
        x, _, w, _ = window.header_rect
        col_w = w // len(columns)
        drawn = iter(font.rendered)
        for j, col in enumerate(columns):
            for i, text in enumerate(col):
                if not text:
                    continue
                shown = next(drawn)
                right = x + 6 + j * col_w + font.size(shown)[0]
                ahead = [k for k in range(j + 1, len(columns)) if i < len(columns[k]) and columns[k][i]]
                limit = x + 6 + ahead[0] * col_w if ahead else x + w
                assert right <= limit, (shown, right, limit)
                if text.startswith("Dataset: "):
                    assert shown != text and shown.endswith("_full_quality") and "..." in shown
        actions = [t.removeprefix("Action: ") for t in font.rendered if t.startswith("Action: ")]
        assert (
            actions and actions[0] in SPEC.names
        )  # the dataset's own names, with no run folder to tell them
    finally:
        window.close()
