"""The denoiser of a config's parameterisation (EDM or DDPM) and the sampler that fits a denoiser: what the agent,
training, play and evaluation build, so that none of them branches on the parameterisation."""

from __future__ import annotations

from typing import Optional, Union

import torch

from diamond_wm.config.agent import DENOISER_PARAMETERISATIONS, DenoiserConfig, DiffusionSamplerConfig
from diamond_wm.models.diffusion.ddpm_denoiser import DDPMDenoiser
from diamond_wm.models.diffusion.ddpm_sampler import DDPMSampler
from diamond_wm.models.diffusion.denoiser import Denoiser
from diamond_wm.models.diffusion.samplers import DiffusionSampler

AnyDenoiser = Union[Denoiser, DDPMDenoiser]
AnySampler = Union[DiffusionSampler, DDPMSampler]


def build_denoiser(cfg: DenoiserConfig) -> AnyDenoiser:
    """`Denoiser` (EDM) or `DDPMDenoiser`, as `cfg.parameterisation` says."""
    if cfg.parameterisation == "edm":
        return Denoiser(cfg)
    if cfg.parameterisation == "ddpm":
        return DDPMDenoiser(cfg)
    raise ValueError(
        f"unknown denoiser parameterisation {cfg.parameterisation!r}: expected "
        + " or ".join(DENOISER_PARAMETERISATIONS)
    )


def build_sampler(
    denoiser: AnyDenoiser, cfg: DiffusionSamplerConfig, generator: Optional[torch.Generator] = None
) -> AnySampler:
    """The next-frame sampler of `denoiser`: EDM's `DiffusionSampler`, or `DDPMSampler` drawing its posterior noise
    from `generator` (torch's global generator if None; the EDM sampler with churn uses the global one)."""
    if isinstance(denoiser, DDPMDenoiser):
        return DDPMSampler(denoiser, cfg, generator)
    return DiffusionSampler(denoiser, cfg)
