"""`diamond eval --pretrained GAME`: a published Atari 100k model from the Hub (a local stand-in here, through the
real huggingface_hub download path) evaluated in its game, as a user checks the paper's table one game at a time."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import cli_command, cli_env
from tests.play.local_hub import LocalHub, write_published_layout


def test_eval_pretrained_plays_the_published_model_in_its_game(tmp_path):
    write_published_layout(tmp_path / "hub")
    with LocalHub(tmp_path / "hub") as server:
        env = dict(cli_env(), HF_ENDPOINT=server.url, HF_HUB_CACHE=str(tmp_path / "cache"))
        res = subprocess.run(
            cli_command("eval", "--pretrained", "breakout", "-n", "2", "--seed", "3"),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        paths = {path for _, path in server.requests}
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["env_id"] == "BreakoutNoFrameskip-v4"
    assert len(report["returns"]) == 2
    assert "/eloialonso/diamond/resolve/main/atari_100k/models/Breakout.pt" in paths
    assert os.listdir(tmp_path / "cache")  # downloaded into the cache the Hub variables name


def test_eval_needs_a_target_or_pretrained_not_both(tmp_path):
    for args in ((), ("some.pt", "--pretrained", "Pong")):
        res = subprocess.run(cli_command("eval", *args), env=cli_env(), capture_output=True, text=True)
        assert res.returncode == 2
        assert "give a checkpoint or run folder, or --pretrained GAME (one of the two)" in res.stderr
        assert res.stderr.count("\n") == 1
