"""Recording played episodes into datasets (`-r`): one dataset per (environment, controller).

Every finished episode is appended to `<base>/dataset/rec_<env>_<controller>/` (published dataset layout), e.g.
`dataset/rec_wm_human`. Optional extras go into the episode's `info`:
- `denoising_trajectory` (T, steps + 1, C, H, W) uint8: the sampler's successive estimates of each imagined frame
  (world model only);
- `original_obs` (T, C, H', W') uint8: the full-resolution frame of the real game at each step (real envs that
  can render it, e.g. Atari's 210 x 160 screen);
- whatever frames the session adds per step (`extra_frames`), e.g. the CS:GO world model's `obs_low_res`
  (T, C, h, w) and `denoising_trajectory_upsampling` (T, steps + 1, C, H, W), uint8.

Actions are recorded as the game has them: int64 indices, or float32 multi-hot vectors (T, D) (CS:GO).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import FINAL_OBSERVATION, Episode
from diamond_wm.data.frames import to_uint8_frames

log = logging.getLogger(__name__)

DENOISING_TRAJECTORY = "denoising_trajectory"
ORIGINAL_OBS = "original_obs"


def recording_dir(base: str | Path, env_name: str, controller: str) -> Path:
    """`<base>/dataset/rec_<env>_<controller>`."""
    return Path(base) / "dataset" / f"rec_{env_name}_{controller}"


def original_frame(env: Any) -> Optional[np.ndarray]:
    """The full-resolution RGB frame (H, W, 3) uint8 of the first sub-environment of a real env, when available.

    ALE games give their screen; other Gymnasium envs their `rgb_array` rendering. None otherwise (the world model,
    asynchronous vector envs).
    """
    vec = getattr(env, "env", None)
    subs = getattr(vec, "envs", None)
    if not subs:
        return None
    unwrapped = subs[0].unwrapped
    ale = getattr(unwrapped, "ale", None)
    if ale is not None:
        return np.asarray(ale.getScreenRGB(), dtype=np.uint8).copy()
    modes = (getattr(unwrapped, "metadata", None) or {}).get("render_modes") or []
    if "rgb_array" not in modes:
        return None
    previous = getattr(unwrapped, "render_mode", None)
    try:
        unwrapped.render_mode = "rgb_array"
        frame = unwrapped.render()
    except Exception:  # an env that cannot render on demand
        return None
    finally:
        unwrapped.render_mode = previous
    if frame is None:
        return None
    frame = np.asarray(frame)
    return frame.astype(np.uint8) if frame.ndim == 3 and frame.shape[2] == 3 else None


class EpisodeRecorder:
    """Buffers the steps of the episode being played and stores it when it ends."""

    def __init__(
        self,
        base: str | Path,
        store_denoising_trajectory: bool = False,
        store_original_obs: bool = False,
        action_spec: Optional[ActionSpec] = None,
    ) -> None:
        self.base = Path(base)
        self.action_spec = action_spec  # recorded with the datasets (the actions of the session's games)
        self.store_denoising_trajectory = store_denoising_trajectory
        self.store_original_obs = store_original_obs
        self.directory: Optional[Path] = None
        self._steps: list[tuple[torch.Tensor, ...]] = []
        self._extras: dict[str, list[torch.Tensor]] = {}
        self.saved: list[tuple[Path, int]] = []  # (dataset folder, episode id) of every stored episode
        self._datasets: dict[
            Path, EpisodeDataset
        ] = {}  # opened once each (episodes end several times a second)

    def start(self, env_name: str, controller: str) -> None:
        """Begin a new episode (the previous unfinished one, if any, is dropped)."""
        self.directory = recording_dir(self.base, env_name, controller)
        self._steps, self._extras = [], {}

    @property
    def num_steps(self) -> int:
        return len(self._steps)

    def add(
        self,
        obs: torch.Tensor,
        act: int | torch.Tensor,
        rew: float,
        end: bool,
        trunc: bool,
        denoising_trajectory: Optional[torch.Tensor] = None,
        original_obs: Optional[np.ndarray] = None,
        extra_frames: Optional[dict[str, torch.Tensor]] = None,
    ) -> None:
        """One step: obs (C, H, W) float in [-1, 1] on which `act` (an index, or a (D,) multi-hot vector) was
        taken, and what it produced; `extra_frames`: more frames of this step (float in [-1, 1]) for `info`."""
        a = torch.as_tensor(act).detach().cpu()
        a = a.to(torch.float32) if a.is_floating_point() else a.to(torch.int64)
        self._steps.append(
            (
                to_uint8_frames(obs.detach().cpu()),
                a,
                torch.tensor(float(rew), dtype=torch.float32),
                torch.tensor(int(bool(end)), dtype=torch.uint8),
                torch.tensor(int(bool(trunc)), dtype=torch.uint8),
            )
        )
        if self.store_denoising_trajectory and denoising_trajectory is not None:
            traj = to_uint8_frames(denoising_trajectory.detach().cpu().clamp(-1, 1))
            self._extras.setdefault(DENOISING_TRAJECTORY, []).append(traj)
        if self.store_original_obs and original_obs is not None:
            frame = torch.from_numpy(np.ascontiguousarray(original_obs)).permute(2, 0, 1).contiguous()
            self._extras.setdefault(ORIGINAL_OBS, []).append(frame)
        for k, frames in (extra_frames or {}).items():
            self._extras.setdefault(k, []).append(to_uint8_frames(frames.detach().cpu().float().clamp(-1, 1)))

    def finish(self, final_obs: Optional[torch.Tensor]) -> Optional[tuple[Path, int]]:
        """Store the buffered episode (its last step ended it) -> (dataset folder, episode id)."""
        if not self._steps or self.directory is None:
            return None
        obs, act, rew, end, trunc = (torch.stack(x) for x in zip(*self._steps, strict=True))
        info: dict[str, Any] = {}
        if final_obs is not None:
            info[FINAL_OBSERVATION] = to_uint8_frames(final_obs.detach().cpu())
        for k, frames in self._extras.items():
            if len(frames) == len(self._steps):  # only when every step has it
                info[k] = torch.stack(frames)
        if not bool(end[-1]) and not bool(trunc[-1]):
            trunc[-1] = 1
        dataset = self._datasets.get(self.directory)
        if dataset is None:
            dataset = EpisodeDataset(
                self.directory, name=self.directory.name, cache_in_ram=False, action_spec=self.action_spec
            )
            self._datasets[self.directory] = dataset
        episode_id = dataset.add_episode(Episode(obs, act, rew, end, trunc, info))  # file, then index
        log.debug(
            "recorded episode %d (%d steps, return %.2f) in %s",
            episode_id,
            len(obs),
            float(rew.sum()),
            self.directory,
        )
        self._steps, self._extras = [], {}
        self.saved.append((self.directory, episode_id))
        return self.directory, episode_id
