"""Spawn points of a world model: where imagined episodes start (the published CS:GO `csgo/spawn/<n>/` folders).

Each folder holds `low_res.npy` (n, C, h, w) uint8 frames, `act.npy` the actions taken on them ((n, 51) multi-hot
vectors for CS:GO, (n,) indices for discrete actions), `next_act.npy` the recorded actions that followed (played
back by the replay controller) and, for a world model with an upsampler (CS:GO), `full_res.npy` (n, C, H, W).
`context(i)` is spawn point i as a world model's starting context; as a context source, `SpawnPoints` draws spawn
points with the generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
import torch

SPAWN_FILES = ("low_res.npy", "full_res.npy", "act.npy", "next_act.npy")
REQUIRED_FILES = ("low_res.npy", "act.npy", "next_act.npy")  # full_res.npy: only an upsampler needs it


@dataclass
class Spawn:
    """One spawn point: frames in [-1, 1] (n, C, h, w) and (n, C, H, W) or None, actions (n, D) float or (n,) int64
    and the replay (T, D) or (T,)."""

    low_res: torch.Tensor
    full_res: Optional[torch.Tensor]
    act: torch.Tensor
    next_act: torch.Tensor


def frames_from_uint8(x: np.ndarray, what: str) -> torch.Tensor:
    """uint8 frames (n, C, H, W), or (n, H, W, 3) -> float (n, C, H, W) in [-1, 1] (x / 255 * 2 - 1)."""
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"{what}: expected uint8 frames (n, C, H, W), got {x.dtype} {tuple(x.shape)}")
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.shape[1] != 3 and t.shape[3] == 3:
        t = t.permute(0, 3, 1, 2)
    return t.float().div(255).mul(2).sub(1)


def actions_from_array(x: np.ndarray) -> torch.Tensor:
    """Recorded actions: integer indices stay int64, anything else becomes float32 vectors."""
    if np.issubdtype(x.dtype, np.integer):
        return torch.as_tensor(x, dtype=torch.int64)
    return torch.as_tensor(x, dtype=torch.float32)


class SpawnPoints:
    """The spawn folders under `root` (sorted by number, else by name); `context(i)` and `replay(i)` of spawn point
    i; a context source for `WorldModelEnv` that draws spawn points with the generator it is given."""

    def __init__(self, root: str | Path, num_steps_conditioning: int = 4) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"spawn folder {self.root} does not exist (expected <n>/{{{','.join(REQUIRED_FILES)}}})"
            )
        dirs = [d for d in self.root.iterdir() if d.is_dir() and (d / "low_res.npy").is_file()]
        if not dirs:
            raise FileNotFoundError(
                f"no spawn point in {self.root}: expected folders <n>/ holding {', '.join(REQUIRED_FILES)}"
            )
        self.dirs = sorted(dirs, key=lambda d: (0, int(d.name), "") if d.name.isdigit() else (1, 0, d.name))
        self.n = num_steps_conditioning

    def __len__(self) -> int:
        return len(self.dirs)

    def load(self, i: int) -> Spawn:
        """Spawn point i (sorted order), its last n frames and actions; one line naming the file when malformed."""
        d = self.dirs[i % len(self.dirs)]
        missing = [f for f in REQUIRED_FILES if not (d / f).is_file()]
        if missing:
            raise FileNotFoundError(f"spawn point {d} lacks {', '.join(missing)}")
        files = [f for f in SPAWN_FILES if (d / f).is_file()]
        arrays = {f: np.load(d / f, allow_pickle=False) for f in files}
        low = frames_from_uint8(arrays["low_res.npy"], str(d / "low_res.npy"))
        full = None
        if "full_res.npy" in arrays:
            full = frames_from_uint8(arrays["full_res.npy"], str(d / "full_res.npy"))
        act = actions_from_array(arrays["act.npy"])
        next_act = actions_from_array(arrays["next_act.npy"])
        n = self.n
        if len(low) < n or (full is not None and len(full) < n) or len(act) < n:
            full_text = f", {len(full)} full-res frames" if full is not None else ""
            raise ValueError(
                f"spawn point {d}: {len(low)} low-res frames{full_text} and {len(act)} actions; "
                f"the world model conditions on {n}"
            )
        return Spawn(low[-n:], full[-n:] if full is not None else None, act[-n:], next_act)

    def context(self, *indices: int) -> tuple[torch.Tensor, ...]:
        """Spawn points `indices` (sorted order) as contexts: (low_res (k, n, C, h, w), act (k, n, ...)) and, when
        every one has them, full_res (k, n, ...)."""
        spawns = [self.load(i) for i in indices]
        out = (torch.stack([s.low_res for s in spawns]), torch.stack([s.act for s in spawns]))
        if all(s.full_res is not None for s in spawns):
            out += (torch.stack([s.full_res for s in spawns]),)
        return out

    def __call__(self, count: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, ...]:
        """`count` spawn points drawn uniformly with `generator` (the first ones in order without one), as
        `context` gives them."""
        if generator is None:
            indices = [k % len(self.dirs) for k in range(count)]
        else:
            indices = torch.randint(0, len(self.dirs), (count,), generator=generator).tolist()
        return self.context(*indices)

    def replay(self, i: int) -> torch.Tensor:
        """The action on spawn point i's last context frame, then its `next_act`."""
        spawn = self.load(i)
        return torch.cat((spawn.act[-1:], spawn.next_act))

    def describe(self, i: int) -> str:
        """Which spawn point i is, for the log."""
        return f"spawn point {self.dirs[i % len(self.dirs)]}"
