"""How many updates does a preset's reward/termination model need to find a dataset's rewards? It alone, on a
dataset's segments, checked on held-out ones.

    python scripts/reward_model_alone.py TRAIN_DIR HELDOUT_DIR [--config-name atari_cpu] [--updates 2000]
        [--every 100] [--threads 1] [override ...]

TRAIN_DIR, HELDOUT_DIR: folders of episodes (e.g. the `dataset/train` of two runs that only collected random steps,
with different seeds). The model, its segments (batch size, length, sample weights), its optimizer, warm-up and
gradient clipping are the preset's (`--config-name`, Hydra overrides such as `rew_end_model.optimizer.lr=3e-3`), in
float32 as `training.precision=bf16` also trains it. Every `--every` updates (the trainer's own update function):
the mean training loss of the reward head since the last line, then on 10 batches of 32 held-out segments (drawn
once) the loss, and the recall and precision of the rewarded transitions (-1 and +1 together). The classes' entropy
is printed first: a model that ignores the frames stays at it.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.derived import rew_end_seq_length
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.objectives import RewEndObjective
from diamond_wm.training.optim import configure_optimizer

HELDOUT_BATCHES = 10


def held_out_scores(model: RewEndModel, batches: list) -> dict[str, float]:
    """Loss of the reward head and recall / precision of the rewarded transitions (either sign) over `batches`."""
    model.eval()
    with torch.no_grad():
        pairs = [model.transition_logits(batch)[:2] for batch in batches]
    logits = torch.cat([p[0] for p in pairs])  # (N, 3)
    target = torch.cat([p[1] for p in pairs])  # (N,)
    pred = logits.argmax(1)
    hits = int(((pred == target) & (target != 1)).sum())
    return {
        "loss": float(torch.nn.functional.cross_entropy(logits, target)),
        "recall": hits / max(1, int((target != 1).sum())),
        "precision": hits / max(1, int((pred != 1).sum())),
    }


def class_entropy(dataset: EpisodeDataset) -> float:
    counts = [c for c in dataset.counts_rew if c > 0]
    total = sum(counts)
    return -sum(c / total * math.log(c / total) for c in counts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train", help="folder of training episodes")
    parser.add_argument("heldout", help="folder of held-out episodes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the preset")
    parser.add_argument("--config-name", default="atari_cpu")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.updates < 1 or args.every < 1:
        parser.error(f"--updates and --every must be >= 1, got {args.updates} and {args.every}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    train = EpisodeDataset(args.train, name="train", read_only=True)
    heldout = EpisodeDataset(args.heldout, name="heldout", read_only=True)
    for ds in (train, heldout):
        if ds.num_episodes == 0:
            raise SystemExit(f"{ds.directory}: no episodes")
    cfg = to_trainer_config(compose_trainer_config(args.overrides, config_name=args.config_name))
    model_cfg = cfg.agent.rew_end_model
    model_cfg.num_actions = train.action_spec.num_action_dims
    model = RewEndModel(model_cfg)
    training = cfg.rew_end_model.training
    seq_length = rew_end_seq_length(cfg)
    sampler = SegmentSampler(
        train,
        training.batch_size,
        seq_length,
        training.sample_weights,
        can_sample_beyond_end=True,
        generator=torch.Generator().manual_seed(args.seed),
    )
    held = SegmentSampler(
        heldout,
        32,
        seq_length,
        None,
        can_sample_beyond_end=True,
        generator=torch.Generator().manual_seed(123),
    )
    held_batches = [held.sample() for _ in range(HELDOUT_BATCHES)]
    # The trainer's own updates: its optimizer, warm-up, gradient accumulation and clipping.
    opt, sched = configure_optimizer(model, cfg.rew_end_model.optimizer, training.lr_warmup_steps)
    comp = ComponentState(
        "rew_end_model",
        model,
        RewEndObjective(model),
        sampler.sample,
        opt,
        sched,
        training.grad_acc_steps,
        training.max_grad_norm,
    )
    rew = train.counts_rew
    print(
        f"{train.num_steps} training steps (rewards -1/0/+1: {rew[0]}/{rew[1]}/{rew[2]}), entropy of the reward "
        f"classes {class_entropy(train):.3f} nats; segments of {seq_length} steps, batch {training.batch_size}, "
        f"lr {cfg.rew_end_model.optimizer.lr:g}"
    )
    start, done = time.perf_counter(), 0
    while done < args.updates:
        steps = min(args.every, args.updates - done)
        metrics = train_component(comp, steps, show_progress=False)
        done += steps
        s = held_out_scores(model, held_batches)
        print(
            f"update {done} ({time.perf_counter() - start:.0f} s): training loss "
            f"{metrics['rew_end_model/loss_rew']:.3f}; held-out loss {s['loss']:.3f}, rewarded recall "
            f"{s['recall']:.2f}, precision {s['precision']:.2f}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
