"""The two interfaces every denoiser kind implements, and the table of kinds a config names.

A denoiser kind (EDM's preconditioned denoiser, DDPM's noise predictor) is a module with the `Denoising`
interface: it builds its own next-frame sampler (`build_sampler`, a `NextFrameSampler`), computes its own training
loss (`compute_loss`) and says how many denoising steps it allows. Training, imagination, play, drift and bench
use only these interfaces; adding a kind is one new module and one line in `DENOISER_KINDS`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional, Protocol

import torch

from diamond_wm.config.agent import DenoiserConfig, DiffusionSamplerConfig, SigmaDistributionConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.diffusion.ddpm_denoiser import DDPMDenoiser
from diamond_wm.models.diffusion.denoiser import Denoiser


class NextFrameSampler(Protocol):
    """Draws the next frame (B, C, H, W) given past frames (B, n, C, H, W) and actions, random draws from `randn`."""

    denoiser: Any
    cfg: DiffusionSamplerConfig

    def sample(
        self,
        prev_obs: torch.Tensor,
        prev_act: Optional[torch.Tensor],
        x_init: Optional[torch.Tensor] = None,
        return_trajectory: bool = False,
        randn: Optional[Callable[[tuple[int, ...]], torch.Tensor]] = None,
    ) -> tuple[torch.Tensor, Optional[list[torch.Tensor]]]: ...


class Denoising(Protocol):
    """What a denoiser kind offers besides being an `nn.Module` conditioned on past frames and actions."""

    cfg: DenoiserConfig
    max_denoising_steps: Optional[int]  # None: no limit

    @property
    def num_steps_conditioning(self) -> int: ...

    def build_sampler(
        self, cfg: DiffusionSamplerConfig, generator: Optional[torch.Generator] = None
    ) -> NextFrameSampler: ...

    def compute_loss(
        self,
        batch: Batch,
        sigma_distribution: Optional[SigmaDistributionConfig] = None,
        num_autoregressive_steps: Optional[int] = None,
        draws: Optional[list[dict[str, torch.Tensor]]] = None,
    ) -> tuple[torch.Tensor, dict[str, float]]: ...


# `DenoiserConfig.parameterisation` -> the class of that kind.
DENOISER_KINDS: dict[str, Callable[[DenoiserConfig], Any]] = {"edm": Denoiser, "ddpm": DDPMDenoiser}

AnyDenoiser = Denoising
AnySampler = NextFrameSampler


def build_denoiser(cfg: DenoiserConfig) -> Denoising:
    """The denoiser of `cfg.parameterisation`'s kind."""
    kind = DENOISER_KINDS.get(cfg.parameterisation)
    if kind is None:
        raise ValueError(
            f"unknown denoiser parameterisation {cfg.parameterisation!r}: expected "
            + " or ".join(DENOISER_KINDS)
        )
    return kind(cfg)


def build_sampler(
    denoiser: Denoising, cfg: DiffusionSamplerConfig, generator: Optional[torch.Generator] = None
) -> NextFrameSampler:
    """`denoiser`'s own next-frame sampler with settings `cfg` (a DDPM sampler draws its posterior noise from
    `generator` when the caller gives no draws; torch's global generator if None)."""
    return denoiser.build_sampler(cfg, generator)
