"""Record an ALE game as a user records their own game: gameplay videos plus a CSV action log per video, in the
format `diamond dataset import` reads, and the environment's own 64x64 frames beside them to measure what the
recording costs.

    python -m diamond_wm.datasets.record_atari record BreakoutNoFrameskip-v4 recordings --videos 8 --frames 1000
    diamond dataset import recordings mygame --actions csv --action-spec recordings/action_spec.json
    python -m diamond_wm.datasets.record_atari compare recordings mygame

The game runs as the paper's Atari environment does (frame skip 4 with max-pooling of the last two frames, no
sticky actions, the game's minimal action set, up to 30 no-ops at reset, no end on life loss), at full resolution
(210x160): one video frame per agent step, 15 frames per second. The policy is random: an action drawn uniformly
and held for 1 to 8 steps. Each video plays the game continuously for `--frames` frames: when a game is over the
terminal frame gets its log row with `end` 1 and the next row starts a new game; the last game of a video is cut
where the video ends.

Beside each `NAME.mp4` and `NAME.csv`: `NAME.npz` holds `frames` (T, 64, 64, 3) uint8, the frames the
environment itself gives at 64x64 (area interpolation of the same max-pooled screen), which `compare` measures the
imported frames against (PSNR in dB: the codec's and the resize's loss together), and `action_spec.json` names
the game's actions for the import.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path
from typing import Optional

import numpy as np

from diamond_wm.config.actions import ActionSpec
from diamond_wm.conversion.synthetic import write_video

FPS = 15  # 60 Hz Atari frames, one agent step every 4 of them
REFERENCE_SIZE = 64
MAX_HOLD = 8


def make_full_res_env(game: str):
    """The paper's Atari preprocessing at the full 210x160 screen (see `diamond_wm.envs.atari`)."""
    import ale_py
    import gymnasium as gym
    from gymnasium.wrappers import AtariPreprocessing

    from diamond_wm.envs.atari import check_atari_id

    gym.register_envs(ale_py)
    check_atari_id(game)
    env = gym.make(game, frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    return AtariPreprocessing(env, noop_max=30, frame_skip=4, screen_size=(160, 210), grayscale_obs=False)


def reference_frame(frame: np.ndarray, size: int = REFERENCE_SIZE) -> np.ndarray:
    """The environment's own `size` x `size` frame of a full-resolution one (AtariPreprocessing's resize)."""
    import cv2

    return cv2.resize(frame, (size, size), interpolation=cv2.INTER_AREA)


class RandomPlayer:
    """Continuous play of one game with the random policy; `video(n)` plays the next n frames."""

    def __init__(self, env, names: list[str], seed: int) -> None:
        self.env, self.names, self.rng = env, names, np.random.default_rng(seed)
        self.obs, _ = env.reset(seed=seed)
        self.action, self.hold = 0, 0

    def video(self, num_frames: int) -> tuple[list[np.ndarray], list[dict], list[np.ndarray], int]:
        """(frames, log rows, reference frames, games ended) of the next `num_frames` frames."""
        frames, rows, refs, ended = [], [], [], 0
        while len(frames) < num_frames:
            if self.hold == 0:
                self.action = int(self.rng.integers(len(self.names)))
                self.hold = int(self.rng.integers(1, MAX_HOLD + 1))
            self.hold -= 1
            frames.append(self.obs)
            refs.append(reference_frame(self.obs))
            self.obs, reward, terminated, truncated, _ = self.env.step(self.action)
            rows.append(
                {"frame": len(rows), "action": self.names[self.action], "reward": f"{reward:g}", "end": 0}
            )
            if (terminated or truncated) and len(frames) < num_frames:
                frames.append(
                    self.obs
                )  # the terminal frame: its row ends the game, no action is taken from it
                refs.append(reference_frame(self.obs))
                rows.append({"frame": len(rows), "action": "", "reward": "", "end": 1})
                ended += 1
                self.obs, _ = self.env.reset()
                self.hold = 0
        return frames, rows, refs, ended


def record(
    game: str, out: Path, videos: int, frames: int, seed: int, prefix: Optional[str] = None
) -> list[str]:
    """Record `videos` videos of `frames` frames each into `out`; returns the summary lines."""
    if videos < 1 or frames < 2:
        raise ValueError(
            f"--videos {videos} --frames {frames}: expected at least 1 video of at least 2 frames"
        )
    out.mkdir(parents=True, exist_ok=True)
    env = make_full_res_env(game)
    names = list(env.unwrapped.get_action_meanings())
    spec = ActionSpec.discrete(len(names), names)
    (out / "action_spec.json").write_text(json.dumps(spec.to_dict(), indent=1) + "\n")
    player = RandomPlayer(env, names, seed)
    stem = prefix or game.split("/")[-1].split("NoFrameskip")[0].split("-")[0].lower()
    lines, total_ended = [], 0
    for v in range(videos):
        vid_frames, rows, refs, ended = player.video(frames)
        name = f"{stem}_{v:03d}"
        write_video(
            out / f"{name}.mp4", np.stack(vid_frames), fps=FPS, codec="libx264"
        )  # yuv420p, as recorders
        with (out / f"{name}.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["frame", "action", "reward", "end"])
            writer.writeheader()
            writer.writerows(rows)
        np.savez_compressed(out / f"{name}.npz", frames=np.stack(refs))
        total_ended += ended
        lines.append(f"wrote {out / name}.mp4, .csv, .npz: {len(rows)} frames, {ended} games ended")
    env.close()
    lines.append(f"actions: {spec.describe()} -> {out / 'action_spec.json'}")
    lines.append(f"{videos * frames} frames, {total_ended} games ended, {FPS} frames per second")
    return lines


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays (inf when equal)."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def compare(recordings: Path, dataset: Path) -> list[str]:
    """PSNR of each imported episode's frames (and its final observation) against the environment's own frames."""
    from diamond_wm.data.dataset import EpisodeDataset

    refs: dict[str, np.ndarray] = {}
    lines, per_split = [], {}
    root = dataset / "low_res" if (dataset / "low_res").is_dir() else dataset
    for split in ("train", "test"):
        ds = EpisodeDataset(root / split, name=split, read_only=True)
        values = []
        for i in range(ds.num_episodes):
            ep = ds.load_episode(i)
            rel, first = ep.info["original_file_id"], int(ep.info["original_first_frame"])
            if rel not in refs:
                refs[rel] = np.load((recordings / rel).with_suffix(".npz"))["frames"]
            got = ep.obs.permute(0, 2, 3, 1).numpy()
            want = refs[rel][first : first + len(got)]
            if got.shape != want.shape:
                raise ValueError(f"{rel}: imported frames {got.shape} but the reference has {want.shape}")
            values.append(psnr(got, want))
            final = ep.info.get("final_observation")
            if final is not None:
                values.append(psnr(final.permute(1, 2, 0).numpy(), refs[rel][first + len(got)]))
        if values:
            per_split[split] = values
            lines.append(
                f"{split}: {ds.num_episodes} episodes, PSNR {np.mean(values):.2f} dB mean "
                f"(min {min(values):.2f}, max {max(values):.2f}) against the environment's own frames"
            )
    if not per_split:
        raise ValueError(f"{dataset}: no episode to compare")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m diamond_wm.datasets.record_atari", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record", help="record videos, action logs and reference frames of an ALE game")
    rec.add_argument("game", help="an ALE id, e.g. BreakoutNoFrameskip-v4")
    rec.add_argument("out", type=Path, help="folder to write into")
    rec.add_argument("--videos", type=int, default=8, help="number of videos (default 8)")
    rec.add_argument("--frames", type=int, default=1000, help="frames per video (default 1000)")
    rec.add_argument("--seed", type=int, default=0, help="seed of the game and the policy (default 0)")
    cmp_ = sub.add_parser("compare", help="PSNR of an imported dataset against the environment's own frames")
    cmp_.add_argument("recordings", type=Path, help="the folder `record` wrote")
    cmp_.add_argument("dataset", type=Path, help="the folder `diamond dataset import` wrote")
    args = parser.parse_args(argv)
    try:
        if args.command == "record":
            lines = record(args.game, args.out, args.videos, args.frames, args.seed)
        else:
            lines = compare(args.recordings, args.dataset)
    except (ValueError, OSError) as e:
        print(f"{parser.prog} {args.command}: {e}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
