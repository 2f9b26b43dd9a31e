"""`diamond play` on the drift experiment's outputs, headless: imagination with the DDPM world model of a static run,
and dataset mode over the expert's static dataset."""

from __future__ import annotations

import pygame
import torch

from diamond_wm.interactive.browse_launch import build_dataset_browser
from diamond_wm.interactive.launch import build_play_session
from diamond_wm.loading.agent import load_run
from diamond_wm.models.diffusion.ddpm_sampler import DDPMSampler
from diamond_wm.play.window import PlayWindow


def test_play_imagines_with_the_ddpm_world_model(drift_runs, tmp_path):
    loaded = load_run(drift_runs["ddpm"])
    session = build_play_session(loaded, tmp_path, num_steps_initial_collect=60, horizon=4, seed=0)
    window = PlayWindow(session, size=64, fps=0)
    window.open()
    try:
        for _ in range(3):
            window.tick()
        assert session.env_name == "wm" and 1 <= session.t <= 3  # an untrained end head may restart it
        assert isinstance(session.envs[0].env.world_model.sampler, DDPMSampler)
        frame = session.frame
        assert frame.shape == (3, 16, 16) and torch.isfinite(frame).all()
        pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_ESCAPE))
        window.tick()
        assert window.should_stop
    finally:
        window.close()


def test_dataset_mode_browses_the_expert_dataset(drift_runs):
    browser = build_dataset_browser(drift_runs["dataset"].parent, ["NOOP", "LEFT", "RIGHT"])
    assert [name for name, _ in browser.datasets] == ["test", "train"]
    assert [ds.num_episodes for _, ds in browser.datasets] == [3, 6]
