"""Drift of a world model's imagined trajectories from the real ones (the paper's section 5.1 comparison).

From real contexts of a test dataset (n conditioning frames and their actions), the world model imagines `horizon`
frames autoregressively: each imagined frame is fed back as conditioning, while the actions are the recorded ones
(teacher-forced), so any difference from the real frames is the model's own error, compounded. Every model and
number of denoising steps imagines from the same contexts with the same noise draws (the same seed).

Errors are per imagination step k = 1 .. horizon, on the 8-bit frames scaled to [0, 1]: the mean squared error
and the PSNR, 10 log10(1 / MSE). Identical frames have an infinite PSNR: their MSE is counted as that of one
8-bit value one level off (1 / 255^2 / values per frame, the smallest error two 8-bit frames can have), which caps
the PSNR at 48.1 dB + 10 log10(values per frame) (77.0 dB for 16 x 16 RGB frames).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.frames import to_float_frames, to_uint8_frames
from diamond_wm.models.world_model import Imagined, WorldModel


class DriftError(ValueError):
    """Drift evaluation inputs that cannot work (no long enough episode, bad steps): one-line message."""


@dataclass
class DriftContexts:
    """Real stretches of test episodes: the first `num_conditioning` frames start each imagination."""

    obs: torch.Tensor  # (N, n + H, C, H, W) uint8
    act: torch.Tensor  # (N, n + H) int64 or (N, n + H, D) float32: act[:, t] was taken on obs[:, t]
    episodes: list[int]
    starts: list[int]
    num_conditioning: int
    horizon: int
    horizon_requested: int

    @property
    def num_contexts(self) -> int:
        return int(self.obs.shape[0])

    @property
    def note(self) -> Optional[str]:
        """Why the horizon is shorter than asked, or None."""
        if self.horizon == self.horizon_requested:
            return None
        return (
            f"horizon {self.horizon} instead of {self.horizon_requested}: the longest test episode has "
            f"{self.num_conditioning + self.horizon} frames ({self.num_conditioning} conditioning + {self.horizon})"
        )


def parse_steps(text: str) -> list[int]:
    """'1,3,10' -> [1, 3, 10]: distinct numbers of denoising steps, each >= 1."""
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        steps = []
    if not steps or any(s < 1 for s in steps) or len(set(steps)) != len(steps):
        raise DriftError(
            f"--steps {text!r}: expected distinct integers >= 1 separated by commas, e.g. 1,3,10"
        )
    return steps


def check_steps(steps: list[int], denoiser: torch.nn.Module, name: str) -> None:
    """DriftError when a denoiser is asked for more steps than it allows (a DDPM one: its training timesteps)."""
    limit = getattr(denoiser, "max_denoising_steps", None)
    if limit is not None and max(steps) > limit:
        kind = str(denoiser.cfg.parameterisation).upper()
        raise DriftError(
            f"--steps {max(steps)} for {name}: a {kind} denoiser samples with at most {limit} steps"
        )


def select_contexts(
    dataset: EpisodeDataset,
    num_conditioning: int,
    horizon: int,
    num_episodes: Optional[int] = None,
    seed: int = 0,
    per_episode: int = 1,
) -> DriftContexts:
    """`per_episode` contexts per episode long enough for n + horizon frames (the first `num_episodes` such
    episodes, or all), starting at distinct offsets drawn with `seed` (fewer where an episode has fewer offsets). When no episode is that long, the horizon is cut to what the longest
    allows (`DriftContexts.note`); DriftError when no episode has even n + 1 frames."""
    if horizon < 1:
        raise DriftError(f"--horizon must be >= 1, got {horizon}")
    if num_episodes is not None and num_episodes < 1:
        raise DriftError(f"--episodes must be >= 1, got {num_episodes}")
    if per_episode < 1:
        raise DriftError(f"--per-episode must be >= 1, got {per_episode}")
    lengths = dataset.lengths
    longest = int(lengths.max()) if len(lengths) else 0
    n = num_conditioning
    if longest < n + 1:
        raise DriftError(
            f"no episode of {dataset.directory or 'the dataset'} is long enough: the longest has {longest} frames, "
            f"the world model needs {n} conditioning frames + at least 1 to compare"
        )
    used = min(horizon, longest - n)
    ids = [i for i, length in enumerate(lengths) if length >= n + used][:num_episodes]
    rng = np.random.default_rng(seed)
    if per_episode == 1:  # one draw per episode: the contexts of earlier reports
        pairs = [(i, int(rng.integers(0, int(lengths[i]) - (n + used) + 1))) for i in ids]
    else:
        pairs = []
        for i in ids:
            offsets = int(lengths[i]) - (n + used) + 1
            chosen = rng.choice(offsets, size=min(per_episode, offsets), replace=False)
            pairs += [(i, int(start)) for start in sorted(chosen)]
    ids, starts = [i for i, _ in pairs], [start for _, start in pairs]
    obs, act = [], []
    for i, start in pairs:
        episode = dataset.load_episode(i)
        obs.append(episode.obs[start : start + n + used])
        act.append(episode.act[start : start + n + used])
    return DriftContexts(torch.stack(obs), torch.stack(act), ids, starts, n, used, horizon)


@torch.no_grad()
def imagined_steps(
    world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int, rows: Sequence[int]
) -> Iterator[Imagined]:
    """The world model's `horizon` steps (frames, drawn rewards and ends) from real obs (B, >= n, C, H, W) uint8
    under recorded actions act (B, n + horizon - 1, ...): autoregressive, teacher-forced actions. Context b draws
    from the world model's generator of row `rows[b]` (its index among all contexts: what it draws does not depend
    on how the contexts are batched)."""
    n = world_model.num_steps_conditioning
    act = act.to(world_model.device)
    generators = [world_model.generator(r) for r in rows]
    state = world_model.start((to_float_frames(obs[:, :n]), act[:, :n]), generators)
    for k in range(horizon):
        yield world_model.step(state, act[:, k + n - 1])  # the action taken on the last frame of the window


def imagine(
    world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int, rows: Sequence[int]
) -> torch.Tensor:
    """Imagined frames (B, horizon, C, H, W) uint8 of `imagined_steps`."""
    frames = [
        to_uint8_frames(out.obs.clamp(-1, 1)).cpu()
        for out in imagined_steps(world_model, obs, act, horizon, rows)
    ]
    return torch.stack(frames, dim=1)


def copy_last_frame(contexts: DriftContexts) -> torch.Tensor:
    """The baseline a world model must beat: every imagined frame a copy of the last real context frame,
    (N, horizon, C, H, W) uint8."""
    last = contexts.obs[:, contexts.num_conditioning - 1]  # (N, C, H, W)
    return last.unsqueeze(1).expand(-1, contexts.horizon, *last.shape[1:]).clone()


def frame_mse(real: torch.Tensor, imagined: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) uint8 pairs -> (...) mean squared error of the frames scaled to [0, 1]."""
    diff = (real.double() - imagined.double()) / 255
    return diff.pow(2).flatten(-3).mean(-1)


def psnr_from_mse(mse: torch.Tensor, values_per_frame: int) -> torch.Tensor:
    """PSNR (dB) of frames in [0, 1], an MSE of 0 counted as one 8-bit value one level off (module docstring)."""
    floor = 1.0 / 255**2 / values_per_frame
    return 10 * torch.log10(1.0 / mse.clamp_min(floor))


def max_psnr(values_per_frame: int) -> float:
    """The PSNR reported for identical frames (module docstring)."""
    return 10 * math.log10(255**2 * values_per_frame)


def step_errors(real: torch.Tensor, imagined: torch.Tensor) -> dict[str, list[float]]:
    """Per imagination step (lists of length H) from real and imagined (N, H, C, H, W) uint8: the mean and
    population std over the N contexts of the MSE and of the PSNR, and the PSNR of the mean MSE."""
    mse = frame_mse(real, imagined)  # (N, H)
    psnr = psnr_from_mse(mse, int(np.prod(real.shape[-3:])))
    return {
        "mse_mean": mse.mean(0).tolist(),
        "mse_std": mse.std(0, unbiased=False).tolist(),
        "psnr_mean": psnr.mean(0).tolist(),
        "psnr_std": psnr.std(0, unbiased=False).tolist(),
        "psnr_of_mean_mse": psnr_from_mse(mse.mean(0), int(np.prod(real.shape[-3:]))).tolist(),
    }


def with_steps(cfg: DiffusionSamplerConfig, steps: int) -> DiffusionSamplerConfig:
    """The model's sampler config with `steps` denoising steps (its other settings kept)."""
    return dataclasses.replace(cfg, num_steps_denoising=steps)
