"""Does a trained reward model read the frames, or mostly the action? Its probabilities on real transitions.

    python scripts/reward_by_action.py MODEL DATASET_DIR [--batches 4] [--length L] [--seed 123]

MODEL: a run folder (its latest agent) or an agent checkpoint; DATASET_DIR: a folder of real episodes (e.g. the
run's dataset/train). On `--batches` batches of 32 segments of `--length` steps (default: the run's
reward/termination segments, imagination's horizon plus the conditioning frames), drawn once with `--seed`:

- the mean p(+1) and p(-1) the model gives the transitions rewarded +1, 0 and -1 (a model that reads the
  rewards gives the rewarded ones a much higher probability than the others);
- the same transitions with every action of the segments replaced by one action, for each action in turn: the mean
  p(+1) and p(-1), largest first, and the ratio of the largest mean p(+1) to the smallest.

A model whose p(+1) hardly differs between rewarded and other transitions but differs between actions gives
imagination rewards for an action, whatever the frames: a policy trained on it learns to press that action.
"""

from __future__ import annotations

import argparse
import dataclasses

import torch

from diamond_wm.config.derived import rew_end_seq_length
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.evaluation.drift_run import DriftError, load_world_model, open_episodes
from diamond_wm.loading.agent import LoadError
from diamond_wm.models.rew_end_model import RewEndModel

BATCH_SIZE = 32
CLASSES = ((2, "+1"), (1, "0"), (0, "-1"))  # target class of each reward sign


def load_reward_model(target: str) -> tuple[RewEndModel, int]:
    """The reward/termination model of a run folder's latest agent or of a checkpoint, and the length of its run's
    reward/termination segments (the default configuration's without a run); SystemExit naming MODEL when there
    is none."""
    try:
        loaded = load_world_model(target, require_denoiser=False)
    except LoadError as e:
        raise SystemExit(f"reward_by_action: MODEL {e}") from None
    model = loaded.agent.rew_end_model
    if model is None:
        raise SystemExit(f"reward_by_action: MODEL {loaded.checkpoint} has no reward/termination model")
    return model.eval(), rew_end_seq_length(loaded.run_cfg or TrainerConfig())


@torch.no_grad()
def probabilities(
    model: RewEndModel, batches: list, action: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """p(-1), p(0), p(+1) (N, 3) of the batches' unpadded transitions, and their target classes (N,); with
    `action`, every action of the segments replaced by it."""
    probs, targets = [], []
    for batch in batches:
        if action is not None:
            batch = dataclasses.replace(batch, act=torch.full_like(batch.act, action))
        logits, target = model.transition_logits(batch)[:2]
        probs.append(logits.float().softmax(1))
        targets.append(target)
    return torch.cat(probs), torch.cat(targets)


def report(model: RewEndModel, batches: list, names: list[str]) -> list[str]:
    probs, target = probabilities(model, batches)
    lines = [
        f"{len(target)} transitions: "
        + ", ".join(f"{int((target == c).sum())} rewarded {s}" for c, s in CLASSES)
    ]
    for c, sign in CLASSES:
        if (target == c).any():
            p = probs[target == c].mean(0)
            lines.append(f"  rewarded {sign:>2}: mean p(+1) {p[2]:.3f}, p(-1) {p[0]:.3f}")
    lines.append("every action replaced by one action: mean p(+1), p(-1)")
    by_action = [(probabilities(model, batches, a)[0].mean(0), name) for a, name in enumerate(names)]
    by_action.sort(key=lambda pn: -float(pn[0][2]))
    lines += [f"  {name:<14} {p[2]:.3f} {p[0]:.3f}" for p, name in by_action]
    top, low = float(by_action[0][0][2]), float(by_action[-1][0][2])
    lines.append(f"largest / smallest mean p(+1): {top / max(low, 1e-12):.2f}x")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model", help="run folder or agent checkpoint")
    parser.add_argument("dataset", help="folder of real episodes")
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--length", type=int, help="steps per segment (default: the run's)")
    parser.add_argument("--seed", type=int, default=123)
    args = parser.parse_args(argv)
    if args.batches < 1:
        parser.error(f"--batches must be >= 1, got {args.batches}")
    if args.length is not None and args.length < 2:
        parser.error(f"--length must be >= 2 (a transition needs two steps), got {args.length}")
    try:
        dataset = open_episodes(args.dataset, option="DATASET_DIR", name="episodes")
    except DriftError as e:
        raise SystemExit(f"reward_by_action: {e}") from None
    spec = dataset.action_spec
    if spec is None or spec.kind != "discrete":
        got = "no action spec" if spec is None else f"{spec.kind} actions"
        raise SystemExit(
            f"reward_by_action: DATASET_DIR {args.dataset}: needs discrete actions (one per step), got {got}"
        )
    model, run_length = load_reward_model(args.model)
    if model.cfg.num_actions != spec.num_action_dims:
        raise SystemExit(
            f"reward_by_action: MODEL takes {model.cfg.num_actions} actions, DATASET_DIR's episodes "
            f"{spec.num_action_dims}"
        )
    length = args.length or run_length
    sampler = SegmentSampler(
        dataset, BATCH_SIZE, length, None, can_sample_beyond_end=True,
        generator=torch.Generator().manual_seed(args.seed),
    )  # fmt: skip
    batches = [sampler.sample() for _ in range(args.batches)]
    names = list(spec.names) or [str(a) for a in range(spec.num_action_dims)]
    print("\n".join(report(model, batches, names)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
