"""A video of a real rollout next to the world model's imagined rollout from the same start.

The policy plays one episode of the real test environment (up to `max_steps` steps). The world model starts from
the episode's first `n` real frames and actions (n = the denoiser's conditioning length) and is then driven
open-loop with the same actions the policy took in the real game, so both sides show the same action sequence.
Left: real; right: imagined, each labelled above its panel. The first `n` frames are the shared real context on
both sides.

`.gif` is written with imageio's Pillow plugin, `.mp4` with imageio-ffmpeg (a dependency of diamond-wm, which
ships its own ffmpeg binary): if it is missing all the same, asking for an `.mp4` is a `VideoError`.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from diamond_wm.data.frames import to_uint8_frames
from diamond_wm.envs.factory import make_env
from diamond_wm.loading.agent import LoadedAgent
from diamond_wm.models.diffusion import build_sampler

log = logging.getLogger(__name__)

GAP_PX = 4
LABELS = ("real", "imagined")


class VideoError(ValueError):
    """A video that cannot be written (file type, missing encoder): one-line message."""


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
        noise = torch.Generator(device="cpu").manual_seed(seed + 1)
        sampler = build_sampler(agent.denoiser, loaded.sampler, noise)
        obs_buf = real[:n].unsqueeze(0).to(device)
        act_buf = act_all[:n].unsqueeze(0).to(device)
        for t in range(n, len(actions) + 1):
            x_init = torch.randn(obs_buf[:, -1].shape, generator=noise).to(device)
            x, _ = sampler.sample(obs_buf, act_buf, x_init=x_init)
            imagined[t] = x[0].clamp(-1, 1).cpu()
            if t < len(actions):
                obs_buf = torch.cat((obs_buf[:, 1:], x.unsqueeze(1)), dim=1)
                act_buf = torch.cat((act_buf[:, 1:], act_all[t : t + 1].view(1, 1).to(device)), dim=1)
    return real, imagined, act_all


def label_strip(text: str, width: int, height: int) -> np.ndarray:
    """(height, width, 3) uint8: `text` in white, centred on black (OpenCV's Hershey font: no font files)."""
    import cv2

    strip = np.zeros((height, width, 3), dtype=np.uint8)
    scale = height / 40
    thickness = max(1, round(height / 16))
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
    origin = (max(0, (width - tw) // 2), (height + th) // 2 - 1)
    cv2.putText(strip, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return strip


def side_by_side(
    real: torch.Tensor, imagined: torch.Tensor, scale: int = 4, labels: tuple[str, str] = LABELS
) -> list[np.ndarray]:
    """(label + H*scale, 2*W*scale + gap, 3) uint8 images: real on the left, imagined on the right, each under
    its label (`labels=()`: no label row)."""
    return panels([real, imagined], scale, labels)


def panels(columns: Sequence[torch.Tensor], scale: int = 4, labels: Sequence[str] = ()) -> list[np.ndarray]:
    """(label + H*scale, k*W*scale + (k-1)*gap, 3) uint8 images of k float frame sequences (T, C, H, W) in [-1, 1]
    side by side, left to right, each under its label (`labels=()`: no label row)."""
    if labels and len(labels) != len(columns):
        raise ValueError(f"{len(labels)} labels for {len(columns)} columns")
    out = []
    panel_w = columns[0].shape[-1] * scale
    label_h = max(12, min(32, panel_w // 8)) // 2 * 2 if labels else 0  # even: libx264 wants even sizes
    strips = [label_strip(t, panel_w, label_h) for t in labels]
    for frames in zip(*columns, strict=True):
        row = []
        for i, frame in enumerate(frames):
            img = to_uint8_frames(frame).permute(1, 2, 0).numpy().repeat(scale, 0).repeat(scale, 1)
            if strips:
                img = np.concatenate([strips[i], img], axis=0)
            if row:
                row.append(np.full((img.shape[0], GAP_PX, 3), 255, dtype=np.uint8))
            row.append(img)
        out.append(np.ascontiguousarray(np.concatenate(row, axis=1)))
    return out


def has_ffmpeg() -> bool:
    """True when imageio can write mp4 (imageio-ffmpeg installed)."""
    return importlib.util.find_spec("imageio_ffmpeg") is not None


def check_video_path(path: str | Path) -> None:
    """`VideoError` (one line) for a file name this module cannot write: call it before long work."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise VideoError(f"video file must end in .mp4 or .gif, got {path.name!r}")
    if suffix == ".mp4" and not has_ffmpeg():
        raise VideoError(
            f"writing {path} needs the package imageio-ffmpeg, a dependency of diamond-wm that is missing here: "
            "pip install imageio-ffmpeg (or ask for a .gif)"
        )


def write_video(frames: list[np.ndarray], path: str | Path, fps: int = 15) -> Path:
    """Write `frames` to `path` (.gif or .mp4); returns the path written."""
    import imageio.v3 as iio

    path = Path(path)
    check_video_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stack = np.stack(frames)  # (T, H, W, 3)
    if path.suffix.lower() == ".mp4":
        pad_h, pad_w = stack.shape[1] % 2, stack.shape[2] % 2  # yuv420p: even sizes
        if pad_h or pad_w:
            stack = np.pad(stack, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))
        iio.imwrite(path, stack, fps=fps, codec="libx264", macro_block_size=1)
    else:
        iio.imwrite(path, stack, duration=1000 / fps, loop=0)
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
