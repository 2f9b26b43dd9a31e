"""A run folder of the published ddpm branch (its config's own keys, a DDPM denoiser's weights) reads as a DDPM
agent: `diamond eval` and `diamond play` take it as they take the main branch's, and `play -d` names its actions."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli
from tests.play.tiny_run import one_thread
from tests.published_run import make_published_run, snapshot


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    run = make_published_run(
        tmp_path_factory.mktemp("ddpm") / "outputs" / "2024-05-01" / "12-00-00", ddpm=True
    )
    return run, snapshot(run.root)


def test_the_run_loads_as_a_ddpm_agent_with_its_sampler_steps(ddpm_run):
    from diamond_wm.loading.agent import load_run
    from diamond_wm.models.diffusion import DDPMDenoiser

    run, before = ddpm_run
    with one_thread():
        loaded = load_run(run.root, device="cpu")
    assert isinstance(loaded.agent.denoiser, DDPMDenoiser)
    assert loaded.checkpoint == run.newest_agent
    assert loaded.sampler.num_steps_denoising == 2  # its ddpm_sampler's
    assert snapshot(run.root) == before


def test_eval_a_ddpm_run(ddpm_run):
    run, before = ddpm_run
    res = run_cli("eval", str(run.root), "-n", "1")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    assert report["checkpoint"] == str(run.newest_agent) and report["num_episodes"] == 1
    assert snapshot(run.root) == before


def test_play_a_ddpm_run_in_its_world_model(ddpm_run, tmp_path):
    run, before = ddpm_run
    shot = tmp_path / "shot.png"
    res = run_cli("play", str(run.root), "--max-frames", "3", "--size", "64", "--screenshot", str(shot))
    assert res.returncode == 0, res.stderr
    assert "reads only the EDM" not in res.stderr and shot.stat().st_size > 0
    assert snapshot(run.root) == before


def test_dataset_mode_names_the_games_actions(ddpm_run):
    from diamond_wm.cli.play import _dataset_action_names

    run, _ = ddpm_run
    assert _dataset_action_names(run.root) == ["NOOP", "FIRE", "RIGHT", "LEFT"]
