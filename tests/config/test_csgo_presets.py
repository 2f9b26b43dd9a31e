"""The CS:GO presets: `agent=csgo` is the published network layout, `world_model_env=fast|higher_quality` the published
samplers (compared with the configs recorded in `csgo_small.pt`)."""

from __future__ import annotations

import dataclasses
import json

import torch
from omegaconf import OmegaConf

from diamond_wm.config.compose import compose_trainer_config
from diamond_wm.envs.csgo import csgo_action_spec
from diamond_wm.models.agent import Agent
from tests.models.conftest import reference_file


def compose(*overrides: str):
    """The composed config as typed objects, without `diamond train`'s checks (a CS:GO agent has no actor-critic)."""
    return OmegaConf.to_object(compose_trainer_config(list(overrides), validate=False))


def test_a_paper_size_csgo_agent_has_the_published_keys_and_shapes():
    manifest = json.loads(reference_file("checkpoint_keys_csgo.json").read_text())
    cfg = compose("agent=csgo").agent
    with torch.device("meta"):
        agent = Agent(cfg, csgo_action_spec())
    ours = {k: list(v.shape) for k, v in agent.state_dict().items()}
    assert ours == dict(manifest["keys"])
    assert agent.num_parameters() == {"denoiser": 330_489_219, "upsampler": 51_149_187}


def test_the_sampler_presets_are_the_published_ones():
    cases = torch.load(reference_file("csgo_small.pt"), weights_only=True)["cases"]
    for preset, case in (("fast", "sampler_fast"), ("higher_quality", "sampler_higher_quality")):
        wm = compose(f"world_model_env={preset}").world_model_env
        ref = cases[case]["config"]
        assert dataclasses.asdict(wm.diffusion_sampler_next_obs) == ref["next_obs"], preset
        assert dataclasses.asdict(wm.diffusion_sampler_upsampling) == ref["upsampling"], preset
        # Atari imagination is the paper's in both.
        assert wm.diffusion_sampler.num_steps_denoising == 3
