"""`diamond play --help` documents the options the docs use (`--max-frames` and `--screenshot` in the walkthrough)."""

from __future__ import annotations

import pytest

from diamond_wm.cli.main import main


def test_play_help_documents_max_frames_and_screenshot(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["play", "--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "--max-frames N quit after drawing N frames" in out and "--screenshot" in out
