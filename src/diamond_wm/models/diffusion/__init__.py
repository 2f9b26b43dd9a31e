"""Diffusion: the EDM denoiser, its preconditioning, training loss, noise schedules and samplers."""

from diamond_wm.models.diffusion.denoiser import Denoiser, quantize
from diamond_wm.models.diffusion.loss import edm_denoising_loss
from diamond_wm.models.diffusion.preconditioning import Conditioners, EDMPreconditioning
from diamond_wm.models.diffusion.samplers import DiffusionSampler, sample_euler_heun
from diamond_wm.models.diffusion.schedules import get_sigmas_karras, sample_sigma_training

__all__ = [
    "Conditioners",
    "Denoiser",
    "DiffusionSampler",
    "EDMPreconditioning",
    "edm_denoising_loss",
    "get_sigmas_karras",
    "quantize",
    "sample_euler_heun",
    "sample_sigma_training",
]
