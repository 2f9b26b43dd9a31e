"""Is a dataset's reward visible in its frames, and how easily? For a reward model that does not learn.

    python scripts/reward_signal.py DATASET_DIR [--rows 8] [--updates 300]

DATASET_DIR: a folder of episodes (a run's dataset/train, an imported dataset's low_res/train). For the
transitions with a reward and those without, prints how often the top `--rows` rows of the frame change (where
many Atari games draw their score), then trains a logistic regression on the absolute change of those rows
(|next frame - frame|) to tell the reward's sign, with Adam, and prints the recall of the rewarded transitions.
A change that marks every reward and that a linear model finds in a few hundred updates says the information is
in the frames; a reward model stuck at the classes' frequencies (its loss at their entropy) then needs more
updates, not other data.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

from diamond_wm.evaluation.drift_run import DriftError, open_episodes


def transitions(directory: Path, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """|next frame - frame| of the top `rows` rows, flattened (N, C * rows * W), and the reward classes (N,);
    DriftError naming the folder when it is missing or holds no episode."""
    ds = open_episodes(directory, option="DATASET_DIR", name="signal")
    diffs, classes = [], []
    for i in range(ds.num_episodes):
        ep = ds.load_episode(i)
        top = ep.obs[:, :, :rows].float() / 127.5  # uint8 frames -> [0, 2]
        diffs.append((top[1:] - top[:-1]).abs().flatten(1))
        classes.append(ep.rew[:-1].sign().long() + 1)  # -1, 0, +1 -> 0, 1, 2
    return torch.cat(diffs), torch.cat(classes)


def class_entropy(y: torch.Tensor) -> float:
    p = torch.bincount(y, minlength=3).double() / len(y)
    return float(-sum(q * math.log(q) for q in p.tolist() if q > 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--rows", type=int, default=8, help="top rows of the frame looked at (default 8)")
    parser.add_argument("--updates", type=int, default=300, help="logistic-regression updates (default 300)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.rows < 1 or args.updates < 1:
        raise SystemExit(
            f"reward_signal: --rows and --updates must be >= 1, got {args.rows} and {args.updates}"
        )
    try:
        x, y = transitions(args.dataset, args.rows)
    except DriftError as e:
        raise SystemExit(f"reward_signal: {e}") from None
    rewarded = y != 1
    if not rewarded.any():
        print(f"{len(y)} transitions, none rewarded: nothing to find")
        return 0
    changed = x.sum(1) > 0
    counts = torch.bincount(y, minlength=3).tolist()
    print(f"{len(y)} transitions, rewards -1/0/+1: {counts[0]}/{counts[1]}/{counts[2]}")
    print(
        f"entropy of the reward classes: {class_entropy(y):.3f} nats (a model that ignores the frames scores this)"
    )
    print(
        f"top {args.rows} rows change in {100 * changed[rewarded].float().mean():.1f}% of rewarded transitions, "
        f"{100 * changed[~rewarded].float().mean():.1f}% of the others"
    )
    torch.manual_seed(args.seed)
    g = torch.Generator().manual_seed(args.seed)
    linear = torch.nn.Linear(x.shape[1], 3)
    opt = torch.optim.Adam(linear.parameters(), lr=1e-2)
    for i in range(1, args.updates + 1):
        idx = torch.randint(len(y), (256,), generator=g)
        loss = F.cross_entropy(linear(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if i % 100 == 0 or i == args.updates:
            with torch.no_grad():
                full = float(F.cross_entropy(linear(x), y))
                recall = float((linear(x[rewarded]).argmax(1) == y[rewarded]).float().mean())
            print(
                f"logistic regression, {i} updates of 256: loss {full:.3f}, rewarded transitions' sign recall {recall:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
