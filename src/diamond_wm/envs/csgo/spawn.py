"""Spawn points of the CS:GO world model: where imagined episodes start (the published `csgo/spawn/<n>/` folders).

Each folder holds `low_res.npy` (n, 3, h, w) and `full_res.npy` (n, 3, H, W) uint8 frames, `act.npy` (n, 51) the
multi-hot actions taken before them, and `next_act.npy` (T, 51) the recorded human actions that followed (played
back by the replay controller). Imagined episodes start from the spawn points in sorted order, one after another.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

SPAWN_FILES = ("low_res.npy", "full_res.npy", "act.npy", "next_act.npy")


@dataclass
class Spawn:
    """One spawn point: frames in [-1, 1] (n, 3, h, w) and (n, 3, H, W), actions (n, D) and the replay (T, D)."""

    low_res: torch.Tensor
    full_res: torch.Tensor
    act: torch.Tensor
    next_act: torch.Tensor


def frames_from_uint8(x: np.ndarray, what: str) -> torch.Tensor:
    """uint8 frames (n, 3, H, W) or (n, H, W, 3) -> float (n, 3, H, W) in [-1, 1] (x / 255 * 2 - 1)."""
    if x.dtype != np.uint8 or x.ndim != 4 or 3 not in (x.shape[1], x.shape[3]):
        raise ValueError(f"{what}: expected uint8 frames (n, 3, H, W), got {x.dtype} {tuple(x.shape)}")
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.shape[1] != 3:
        t = t.permute(0, 3, 1, 2)
    return t.float().div(255).mul(2).sub(1)


class SpawnPoints:
    """The spawn folders under `root` (sorted by number, else by name); a callable initial-condition source for
    `WorldModelEnv` that gives the next spawn points in order."""

    def __init__(self, root: str | Path, num_steps_conditioning: int = 4) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"spawn folder {self.root} does not exist (expected <n>/{{{','.join(SPAWN_FILES)}}})"
            )
        dirs = [d for d in self.root.iterdir() if d.is_dir() and (d / "low_res.npy").is_file()]
        if not dirs:
            raise FileNotFoundError(
                f"no spawn point in {self.root}: expected folders <n>/ holding {', '.join(SPAWN_FILES)}"
            )
        self.dirs = sorted(dirs, key=lambda d: (0, int(d.name), "") if d.name.isdigit() else (1, 0, d.name))
        self.n = num_steps_conditioning
        self.next_index = 0

    def __len__(self) -> int:
        return len(self.dirs)

    def load(self, i: int) -> Spawn:
        """Spawn point i (sorted order), its last n frames and actions; one line naming the file when malformed."""
        d = self.dirs[i % len(self.dirs)]
        missing = [f for f in SPAWN_FILES if not (d / f).is_file()]
        if missing:
            raise FileNotFoundError(f"spawn point {d} lacks {', '.join(missing)}")
        arrays = {f: np.load(d / f, allow_pickle=False) for f in SPAWN_FILES}
        low = frames_from_uint8(arrays["low_res.npy"], str(d / "low_res.npy"))
        full = frames_from_uint8(arrays["full_res.npy"], str(d / "full_res.npy"))
        act = torch.as_tensor(arrays["act.npy"], dtype=torch.float32)
        next_act = torch.as_tensor(arrays["next_act.npy"], dtype=torch.float32)
        n = self.n
        if len(low) < n or len(full) < n or len(act) < n:
            raise ValueError(
                f"spawn point {d}: {len(low)} low-res frames, {len(full)} full-res frames and {len(act)} actions; "
                f"the world model conditions on {n}"
            )
        return Spawn(low[-n:], full[-n:], act[-n:], next_act)

    def __call__(self, count: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """The next `count` spawn points: (low_res (count, n, 3, h, w), act (count, n, D), full_res (count, n, ...)).
        The generator is not used: spawn points come in order."""
        spawns = [self.load(self.next_index + k) for k in range(count)]
        self.next_index = (self.next_index + count) % len(self.dirs)
        return (
            torch.stack([s.low_res for s in spawns]),
            torch.stack([s.act for s in spawns]),
            torch.stack([s.full_res for s in spawns]),
        )
