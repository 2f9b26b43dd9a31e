"""DDPM sampling over a noise-predicting callable `predict_noise(x_t, t) -> eps` (k-diffusion's shape: the sampler
knows nothing of the conditioning, which `DDPMSampler` closes over), and the next-frame sampler of a DDPM world
model with `DiffusionSampler`'s interface."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Optional

import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.models.diffusion.ddpm_schedule import DDPMSchedule
from diamond_wm.models.diffusion.denoiser import quantize

if TYPE_CHECKING:
    from diamond_wm.models.diffusion.ddpm_denoiser import DDPMDenoiser

PredictNoise = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t (B, ...), t (B,) int64) -> eps
NoiseSampler = Callable[[], torch.Tensor]  # () -> standard normal noise shaped like x


@torch.no_grad()
def sample_ddpm(
    predict_noise: PredictNoise,
    x: torch.Tensor,
    timesteps: Sequence[int],
    schedule: DDPMSchedule,
    noise_sampler: Optional[NoiseSampler] = None,
    trajectory: Optional[list[torch.Tensor]] = None,
) -> torch.Tensor:
    """DDPM ancestral sampling (Ho et al. 2020, Algorithm 2) over decreasing, possibly strided `timesteps`: each
    step goes from t to the next timestep (-1 after the last: abar = 1) by the posterior of eq. 7 with x_0 predicted
    and clipped; `noise_sampler()` gives the noise of the steps at t > 0 (default: torch.randn_like(x)). Each new x
    is appended to `trajectory`."""
    if noise_sampler is None:
        noise_sampler = lambda: torch.randn_like(x)  # noqa: E731
    ones = torch.ones(x.shape[0], dtype=torch.long, device=x.device)  # (B,)
    for i, t in enumerate(timesteps):
        t_prev = timesteps[i + 1] if i + 1 < len(timesteps) else -1
        eps = predict_noise(x, t * ones)  # (B, C, H, W)
        noise = noise_sampler() if t > 0 else None
        x, _ = schedule.posterior_step(x, eps, t, t_prev, noise)
        if trajectory is not None:
            trajectory.append(x)
    return x


class DDPMSampler:
    """Samples a DDPM denoiser's next frame given past frames and actions, with `cfg.num_steps_denoising` steps
    (the other fields of the config are EDM's and unused here).

    One step evaluates the network at t = T / 2 and takes the predicted clean frame; n > 1 steps run `sample_ddpm`
    over the timesteps k * (T // n), k = n - 1 .. 0. The noise of the posterior steps comes from `variance_noise`
    when given to `sample`, else from `generator` (e.g. the world-model environment's), else from torch's global
    generator.
    """

    def __init__(
        self,
        denoiser: DDPMDenoiser,
        cfg: DiffusionSamplerConfig,
        generator: Optional[torch.Generator] = None,
    ) -> None:
        self.denoiser = denoiser
        self.cfg = cfg
        self.generator = generator
        schedule = denoiser.schedule
        n = cfg.num_steps_denoising
        self.timesteps = [schedule.num_train_timesteps // 2] if n == 1 else schedule.inference_timesteps(n)

    def _noise_sampler(
        self, like: torch.Tensor, variance_noise: Optional[Sequence[torch.Tensor]]
    ) -> NoiseSampler:
        if variance_noise is not None:
            needed = sum(t > 0 for t in self.timesteps) if len(self.timesteps) > 1 else 0
            if len(variance_noise) != needed:
                raise ValueError(
                    f"variance_noise has {len(variance_noise)} tensors, the sampler needs {needed}"
                )
            it = iter(variance_noise)
            return lambda: next(it).to(like)
        g = self.generator
        if g is None:
            return lambda: torch.randn_like(like)
        return lambda: torch.randn(like.shape, generator=g, device=g.device, dtype=like.dtype).to(like.device)

    @torch.no_grad()
    def sample(
        self,
        prev_obs: torch.Tensor,
        prev_act: torch.Tensor,
        x_init: Optional[torch.Tensor] = None,
        return_trajectory: bool = False,
        variance_noise: Optional[Sequence[torch.Tensor]] = None,
        randn: Optional[Callable[[tuple[int, ...]], torch.Tensor]] = None,
    ) -> tuple[torch.Tensor, Optional[list[torch.Tensor]]]:
        """prev_obs (B, n, C, H, W), prev_act (B, n) -> (sample (B, C, H, W), [x_init, x_1, ...] or None).

        The sample is clamped and quantized to 8 bits; so is the last entry of the trajectory with one step, the
        others are the unquantized x of each step. `variance_noise`: the standard normal draws of the posterior
        steps at t > 0, in order (one (B, C, H, W) tensor each), to reproduce a run; else `randn(shape)` draws them
        (the world model environment's generator), else the sampler's generator."""
        if prev_obs.ndim != 5:
            raise ValueError(f"prev_obs must be (B, n, C, H, W), got shape {tuple(prev_obs.shape)}")
        b, _, c, h, w = prev_obs.shape
        device, dtype = prev_obs.device, prev_obs.dtype
        if x_init is None:
            x = torch.randn(b, c, h, w, device=device, dtype=dtype)  # (B, C, H, W)
        else:
            if x_init.shape != (b, c, h, w):
                raise ValueError(f"x_init must have shape {(b, c, h, w)}, got {tuple(x_init.shape)}")
            x = x_init
        trajectory = [x] if return_trajectory else None
        noise_sampler = self._noise_sampler(x, variance_noise)
        if variance_noise is None and randn is not None:
            noise_sampler = lambda: randn(tuple(x.shape))  # noqa: E731

        def predict_noise(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return self.denoiser.predict_noise(x_t, t, prev_obs, prev_act)

        if len(self.timesteps) == 1:  # one-step generation: the clean frame predicted at T / 2
            t = torch.full((b,), self.timesteps[0], dtype=torch.long, device=device)
            sample = self.denoiser.wrap_model_output(x, predict_noise(x, t), t)
            if trajectory is not None:
                trajectory.append(sample)
            return sample, trajectory
        schedule = self.denoiser.schedule
        x = sample_ddpm(predict_noise, x, self.timesteps, schedule, noise_sampler, trajectory)
        return quantize(x), trajectory
