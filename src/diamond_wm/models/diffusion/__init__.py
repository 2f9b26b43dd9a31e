"""Diffusion: the EDM and DDPM denoisers, their preconditioning or schedules, training losses and samplers."""

from diamond_wm.models.diffusion.ddpm_denoiser import DDPMDenoiser
from diamond_wm.models.diffusion.ddpm_sampler import DDPMSampler, sample_ddpm
from diamond_wm.models.diffusion.ddpm_schedule import DDPMSchedule
from diamond_wm.models.diffusion.denoiser import Denoiser, quantize
from diamond_wm.models.diffusion.factory import AnyDenoiser, AnySampler, build_denoiser, build_sampler
from diamond_wm.models.diffusion.loss import ddpm_denoising_loss, edm_denoising_loss
from diamond_wm.models.diffusion.preconditioning import Conditioners, EDMPreconditioning
from diamond_wm.models.diffusion.samplers import DiffusionSampler, sample_euler_heun
from diamond_wm.models.diffusion.schedules import get_sigmas_karras, sample_sigma_training

__all__ = [
    "AnyDenoiser",
    "AnySampler",
    "Conditioners",
    "DDPMDenoiser",
    "DDPMSampler",
    "DDPMSchedule",
    "Denoiser",
    "DiffusionSampler",
    "EDMPreconditioning",
    "build_denoiser",
    "build_sampler",
    "ddpm_denoising_loss",
    "edm_denoising_loss",
    "get_sigmas_karras",
    "quantize",
    "sample_ddpm",
    "sample_euler_heun",
    "sample_sigma_training",
]
