"""Selecting the DDPM denoiser: the `agent=ddpm` preset and `agent.denoiser.parameterisation`, checked up front."""

from __future__ import annotations

import pytest

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.errors import ConfigError


def test_the_ddpm_preset_is_the_paper_networks_with_the_ddpm_denoiser():
    ddpm = to_trainer_config(compose_trainer_config(["agent=ddpm"])).agent
    default = to_trainer_config(compose_trainer_config()).agent
    assert default.denoiser.parameterisation == "edm" and ddpm.denoiser.parameterisation == "ddpm"
    ddpm.denoiser.parameterisation = "edm"
    assert ddpm == default  # nothing else differs


def test_an_unknown_parameterisation_is_refused():
    with pytest.raises(ConfigError, match=r"agent\.denoiser\.parameterisation='vp': expected edm \| ddpm"):
        compose_trainer_config(["agent.denoiser.parameterisation=vp"])


def test_more_denoising_steps_than_ddpm_timesteps_are_refused():
    steps = "world_model_env.diffusion_sampler.num_steps_denoising=1001"
    compose_trainer_config([steps])  # EDM: any number of steps
    with pytest.raises(ConfigError, match="num_steps_denoising=1001: expected at most 1000 with a DDPM"):
        compose_trainer_config(["agent=ddpm", steps])
