"""A video of a real rollout next to the world model's imagined rollout from the same start.

The policy plays one episode of the real test environment (up to `max_steps` steps). The world model starts from
the episode's first `n` real frames and actions (n = the denoiser's conditioning length) and is then driven
open-loop with the same actions the policy took in the real game, so both sides show the same action sequence.
Left: real; right: imagined. The first `n` frames are the shared real context on both sides.

`.gif` is written with imageio's Pillow plugin; `.mp4` needs imageio-ffmpeg (`pip install 'diamond-wm[eval]'`):
without it a `.gif` is written beside the requested path instead, with a warning.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from diamond_wm.data.frames import to_uint8_frames
from diamond_wm.envs.factory import make_env
from diamond_wm.evaluation.loading import LoadedAgent
from diamond_wm.models.diffusion import DiffusionSampler

log = logging.getLogger(__name__)

GAP_PX = 4


@torch.no_grad()
def real_and_imagined(
    loaded: LoadedAgent, seed: int, max_steps: int = 200, epsilon: float = 0.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(real (T+1, C, H, W), imagined (T+1, C, H, W), actions (T,)) float frames in [-1, 1]."""
    agent = loaded.agent
    device = agent.device
    gen = torch.Generator().manual_seed(seed)
    env = make_env(loaded.env.test, loaded.env.type, 1, device, asynchronous=False)
    try:
        obs, _ = env.reset(seed=seed)
        frames, actions, hx_cx = [obs[0].cpu()], [], None
        for _ in range(max_steps):
            out = agent.actor_critic(obs.to(device), hx_cx)
            hx_cx = out.hx_cx
            probs = torch.softmax(out.logits_act.float().cpu(), dim=-1)
            act = torch.multinomial(probs, 1, generator=gen).squeeze(1)
            if epsilon > 0 and float(torch.rand(1, generator=gen)) < epsilon:
                act = torch.randint(env.num_actions, (1,), generator=gen)
            obs, _, end, trunc, info = env.step(act.to(env.device))
            actions.append(int(act[0]))
            if bool(end[0]) or bool(trunc[0]):
                frames.append(info["final_observation"][0].cpu())
                break
            frames.append(obs[0].cpu())
    finally:
        env.close()
    real = torch.stack(frames)
    act_all = torch.tensor(actions, dtype=torch.long)
    n = agent.denoiser.num_steps_conditioning
    imagined = real.clone()
    if len(actions) >= n:
        sampler = DiffusionSampler(agent.denoiser, loaded.sampler)
        obs_buf = real[:n].unsqueeze(0).to(device)
        act_buf = act_all[:n].unsqueeze(0).to(device)
        noise = torch.Generator(device="cpu").manual_seed(seed + 1)
        for t in range(n, len(actions) + 1):
            x_init = torch.randn(obs_buf[:, -1].shape, generator=noise).to(device)
            x, _ = sampler.sample(obs_buf, act_buf, x_init=x_init)
            imagined[t] = x[0].clamp(-1, 1).cpu()
            if t < len(actions):
                obs_buf = torch.cat((obs_buf[:, 1:], x.unsqueeze(1)), dim=1)
                act_buf = torch.cat((act_buf[:, 1:], act_all[t : t + 1].view(1, 1).to(device)), dim=1)
    return real, imagined, act_all


def side_by_side(real: torch.Tensor, imagined: torch.Tensor, scale: int = 4) -> list[np.ndarray]:
    """(H*scale, 2*W*scale + gap, 3) uint8 images: real on the left, imagined on the right."""
    out = []
    for a, b in zip(real, imagined, strict=True):
        left = to_uint8_frames(a).permute(1, 2, 0).numpy()
        right = to_uint8_frames(b).permute(1, 2, 0).numpy()
        left = left.repeat(scale, 0).repeat(scale, 1)
        right = right.repeat(scale, 0).repeat(scale, 1)
        gap = np.full((left.shape[0], GAP_PX, 3), 255, dtype=np.uint8)
        out.append(np.ascontiguousarray(np.concatenate([left, gap, right], axis=1)))
    return out


def has_ffmpeg() -> bool:
    """True when imageio can write mp4 (imageio-ffmpeg installed)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 15) -> Path:
    """Write `frames` to `path` (.gif or .mp4); returns the path written (a .gif when mp4 is unavailable)."""
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"video file must end in .mp4 or .gif, got {path.name!r}")
    if suffix == ".mp4":
        if not has_ffmpeg():
            gif = path.with_suffix(".gif")
            log.warning(
                "writing %s needs imageio-ffmpeg (pip install 'diamond-wm[eval]'): writing %s instead",
                path,
                gif,
            )
            path, suffix = gif, ".gif"
        else:
            iio.imwrite(path, np.stack(frames), fps=fps, codec="libx264", macro_block_size=1)
            return path
    iio.imwrite(path, np.stack(frames), duration=1000 / fps, loop=0)
    return path


def comparison_video(
    loaded: LoadedAgent,
    path: str | Path,
    seed: int,
    max_steps: int = 200,
    fps: int = 15,
    scale: Optional[int] = None,
) -> Path:
    """Roll out, imagine, and write the side-by-side video (see the module docstring)."""
    real, imagined, _ = real_and_imagined(loaded, seed, max_steps)
    side = real.shape[-1]
    scale = scale or max(1, 256 // side)
    written = write_video(side_by_side(real, imagined, scale), path, fps)
    log.info("video (left real, right imagined, %d frames) written to %s", len(real), written)
    return written
