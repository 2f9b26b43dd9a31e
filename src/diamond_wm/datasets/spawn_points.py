"""Spawn points of a world model from a dataset (`diamond dataset spawn`): where `diamond play --checkpoint ...
--spawn DIR` starts its imagined episodes, in the published `csgo/spawn/<n>/` layout (`diamond_wm.envs.csgo.spawn`).

Spawn point k takes `context` consecutive steps of an episode (the episodes are taken in turn, the start spread
over each): their frames (`low_res.npy`), their actions (discrete indices or multi-hot vectors, as recorded), the
recorded actions that followed (`next_act.npy`, up to `replay_steps`), which the replay controller plays back, and,
for a world model with an upsampler (CS:GO-shaped), their full-resolution frames (`full_res.npy`, from a
full-resolution dataset or the original hdf5 files, as training reads them). The dataset's action spec, when it
recorded one, is kept beside them (`DIR/action_spec.json`: play names the actions with it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import numpy as np

from diamond_wm.config.actions import write_action_spec
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, make_batch
from diamond_wm.data.static import resolve_static_dataset
from diamond_wm.runtime.atomic import atomic_write
from diamond_wm.training.build import full_res_datasets

CONTEXT = 4  # the denoiser's conditioning frames (the published num_steps_conditioning)
REPLAY_STEPS = 100


def _uint8(frames) -> np.ndarray:
    """Float frames in [-1, 1] (n, C, H, W) -> uint8, as stored in the dataset."""
    return frames.add(1).div(2).mul(255).round().clamp(0, 255).byte().numpy()


def _save_npy(path: Path, array: np.ndarray) -> None:
    atomic_write(path, lambda f: np.save(f, np.ascontiguousarray(array), allow_pickle=False))


def write_spawn_points(
    dataset: str | Path,
    full_res: Optional[str | Path],
    out: str | Path,
    *,
    count: int = 10,
    context: int = CONTEXT,
    replay_steps: int = REPLAY_STEPS,
    split: str = "test",
) -> list[Path]:
    """Write `count` spawn folders `out/<k>/` from `dataset` (a dataset folder, or one holding train/ and test/:
    its `split`, the training set when there is no test set) and, when given, the full-resolution frames of
    `full_res` (a full-resolution dataset of the same episodes, or a folder of the original hdf5 files).
    ValueError in one line for what does not fit; returns the folders written."""
    if count < 1 or context < 1 or replay_steps < 1:
        raise ValueError(
            f"--count {count}, --context {context}, --replay-steps {replay_steps}: expected >= 1 each"
        )
    if split not in ("train", "test"):
        raise ValueError(f"--split {split}: expected train or test")
    try:
        paths = resolve_static_dataset(dataset)
    except ValueError as e:
        raise ValueError(str(e).replace(f"static_dataset.path={dataset}", f"DATASET {dataset}")) from e
    use_test = split == "test" and paths.test is not None
    folder = paths.test if use_test else paths.train
    low = EpisodeDataset(folder, read_only=True, cache_in_ram=False)
    full = _full_res_dataset(full_res, low, use_test, split) if full_res is not None else None
    long_enough = [i for i, n in enumerate(low.lengths.tolist()) if n > context]
    if not long_enough:
        raise ValueError(f"{folder}: no episode longer than the {context} context steps of a spawn point")
    out = Path(out)
    written = []
    for k in range(count):
        episode_id = long_enough[k % len(long_enough)]
        length = int(low.lengths[episode_id])
        turn, turns = k // len(long_enough), -(-count // len(long_enough))
        start = (
            (length - context - 1) * turn // max(1, turns)
        )  # spread over the episode, leaving one to replay
        batch = make_batch(low, [SegmentId(episode_id, start, start + context)], full_res_dataset=full)
        act = low.load_episode(episode_id).act
        d = out / str(k)
        d.mkdir(parents=True, exist_ok=True)
        arrays = {
            "low_res.npy": _uint8(batch.obs[0]),
            "act.npy": act[start : start + context].numpy(),
            "next_act.npy": act[start + context : start + context + replay_steps].numpy(),
        }
        if full is not None:
            arrays["full_res.npy"] = _uint8(batch.full_res[0])
        else:  # spawn points written here before, with other frames: not this one's
            (d / "full_res.npy").unlink(missing_ok=True)
        for name, array in arrays.items():
            _save_npy(d / name, array)
        written.append(d)
    if low.action_spec is not None:
        write_action_spec(out / "action_spec.json", low.action_spec)
    return written


def _full_res_dataset(full_res: str | Path, low: EpisodeDataset, use_test: bool, split: str) -> Any:
    """The full-resolution dataset of `low`'s episodes in `full_res` (ValueError in one line otherwise)."""
    other = EpisodeDataset(None)  # the split not used: nothing to check against
    try:
        pair = full_res_datasets(str(full_res), *((other, low) if use_test else (low, other)))
    except ValueError as e:
        raise ValueError(
            str(e).replace(f"static_dataset.full_res_path={full_res}", f"FULL_RES {full_res}")
        ) from e
    full = pair[1] if use_test else pair[0]
    if full is None:
        raise ValueError(f"FULL_RES {full_res}: no full-resolution {split} dataset for {low.directory}")
    return full
