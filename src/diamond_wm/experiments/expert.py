"""A scripted expert for Catch and the static dataset it records, in our dataset layout (`train/`, `test/`).

The expert moves the paddle towards the ball's column and stays under it: Catch's optimal policy (every ball can
be reached in time, so it catches all of them). It reads the game's state rather than its pixels: the policy a
model-free learner converges to on this fully observed game, without minutes of training and its run-to-run
variance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from diamond_wm.config.actions import ActionSpec
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.episode import FINAL_OBSERVATION, Episode
from diamond_wm.envs.catch import ACTION_MEANINGS, LONG_ENV_KWARGS, CatchEnv

NOOP, LEFT, RIGHT = range(3)
GRID_SIZE = 8


def chase(env: CatchEnv) -> int:
    """The expert's action: towards the ball's column, NOOP once the paddle's centre is under it."""
    state = env.state
    diff = state["ball_col"] - state["paddle"]
    return NOOP if diff == 0 else (RIGHT if diff > 0 else LEFT)


def _chw(frame: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).contiguous()  # (C, H, W) uint8


def expert_episode(env: CatchEnv, seed: int) -> Episode:
    """One episode of the expert, from `env.reset(seed=seed)` until the game terminates."""
    obs, _ = env.reset(seed=seed)
    frames, acts, rews = [], [], []
    while True:
        action = chase(env)
        frames.append(_chw(obs))
        acts.append(action)
        obs, rew, terminated, truncated, _ = env.step(action)
        rews.append(rew)
        if terminated or truncated:
            break
    n = len(frames)
    end = torch.zeros(n, dtype=torch.uint8)
    trunc = torch.zeros(n, dtype=torch.uint8)
    (end if terminated else trunc)[-1] = 1
    return Episode(
        obs=torch.stack(frames),
        act=torch.tensor(acts, dtype=torch.long),
        rew=torch.tensor(rews, dtype=torch.float32),
        end=end,
        trunc=trunc,
        info={FINAL_OBSERVATION: _chw(obs)},
    )


def catch_long_env(size: int = 16) -> CatchEnv:
    """`diamond_wm/CatchLong-v0` drawn at `size` x `size` pixels (cells of size / 8 pixels: the frames a run with
    env.train.size=SIZE sees, whose area resize of the 64 x 64 frames keeps every cell's colour)."""
    if size % GRID_SIZE:
        raise ValueError(f"size must be a multiple of {GRID_SIZE}, got {size}")
    return CatchEnv(grid_size=GRID_SIZE, cell_px=size // GRID_SIZE, **LONG_ENV_KWARGS)


def write_expert_dataset(
    root: str | Path, num_train: int, num_test: int, seed: int = 0, size: int = 16
) -> Path:
    """`root/train` and `root/test` (a static dataset: `diamond train static_dataset.path=ROOT`) of expert
    episodes; train episode i is seeded seed + i, test episode j seed + num_train + j. Returns `root`."""
    for key, value in (("num_train", num_train), ("num_test", num_test)):
        if value < 1:
            raise ValueError(f"{key} must be >= 1, got {value}")
    root = Path(root)
    spec = ActionSpec.discrete(len(ACTION_MEANINGS), list(ACTION_MEANINGS))
    env = catch_long_env(size)
    for split, first, count in (("train", seed, num_train), ("test", seed + num_train, num_test)):
        dataset = EpisodeDataset(root / split, action_spec=spec, autosave_index=False)
        if dataset.num_episodes:
            raise ValueError(
                f"{root / split} already holds {dataset.num_episodes} episodes: give an empty folder"
            )
        for i in range(count):
            dataset.add_episode(expert_episode(env, first + i))
        dataset.close()
    return root
