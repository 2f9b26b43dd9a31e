"""How many updates does a preset's reward/termination model need to find a dataset's rewards? It alone, on a
dataset's segments, checked on held-out ones.

    python scripts/reward_model_alone.py TRAIN_DIR HELDOUT_DIR [--config-name atari_cpu] [--updates 2000]
        [--every 100] [--threads 1] [--rewarded-share 0.5] [override ...]

TRAIN_DIR, HELDOUT_DIR: folders of episodes (e.g. the `dataset/train` of two runs that only collected random steps,
with different seeds). The model, its segments (batch size, length, sample weights), its optimizer, warm-up and
gradient clipping are the preset's (`--config-name`, Hydra overrides such as `rew_end_model.optimizer.lr=3e-3`), in
float32 as `training.precision=bf16` also trains it. Every `--every` updates (the trainer's own update function):
the mean training loss of the reward head since the last line, then on 10 batches of 32 held-out segments (drawn
once) the loss, and the recall and precision of the rewarded transitions (-1 and +1 together). The classes' entropy
is printed first: a model that ignores the frames stays at it.

`--rewarded-share P`: in each training batch, a share P of the segments is placed around a rewarded step (drawn
uniformly among the dataset's rewarded steps, at a uniform position among the segment's transitions: never its
last step, whose transition the loss does not count), the rest as the preset draws them. The rewarded classes are
then more frequent in training than in the dataset, by factors measured on 200 batches first; the held-out scores
are also given with those factors' logarithms taken from the reward logits ("adjusted"), the model's probabilities
brought back to the dataset's frequencies. (The trainer's `rew_end_model.training.rewarded_share` corrects the
logits in the loss instead, with factors measured on its batches as it trains.)

`--world-model MODEL` (a run folder or an agent checkpoint; its denoiser, with its run's sampler settings, or
`--steps` Euler steps): the held-out segments are also scored with their frames imagined one step at a time from the
real ones before them (`rew_end_model.training.imagined_share`'s frames, drawn once), with the recall of each sign;
`--imagined-share P`: that share of each training batch's segments gets such frames too (1: the reward model learns
from imagined frames only). A model trained on imagined frames that stays at the entropy on held-out imagined ones
says the world model's frames do not carry what marks the rewards.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import math
import sys
import time
from typing import Any

import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.derived import rew_end_seq_length
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.data.sampling import SegmentId, SegmentSampler, make_batch
from diamond_wm.evaluation.drift_run import DriftError, load_world_model, open_episodes
from diamond_wm.loading.agent import LoadError
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.imagined_frames import ImaginedFrames
from diamond_wm.training.objectives import RewEndObjective
from diamond_wm.training.optim import configure_optimizer

HELDOUT_BATCHES = 10
SHARE_BATCHES = 200  # batches that measure the classes' frequencies under --rewarded-share


def rewarded_steps(dataset: EpisodeDataset) -> list[tuple[int, int]]:
    """(episode id, step) of every transition with a non-zero reward."""
    steps = []
    for e in range(dataset.num_episodes):
        rew = dataset.load_episode(e).rew
        steps += [(e, int(t)) for t in torch.nonzero(rew).flatten().tolist()]
    return steps


class RewardedShareSampler:
    """`base`'s batches with the first round(share * B) segments placed around rewarded steps instead."""

    def __init__(
        self, base: SegmentSampler, rewarded: list[tuple[int, int]], share: float, seed: int
    ) -> None:
        if not rewarded:
            raise SystemExit(f"{base.dataset.directory}: no rewarded step to place segments around")
        self.base, self.rewarded = base, rewarded
        self.k = round(share * base.batch_size)
        self.generator = torch.Generator().manual_seed(seed + 1)

    def sample(self):
        ids = self.base.sample_ids()
        t, g = self.base.seq_length, self.generator
        for i in range(self.k):
            e, step = self.rewarded[int(torch.randint(len(self.rewarded), (1,), generator=g))]
            start = step - int(torch.randint(t - 1, (1,), generator=g))  # the rewarded step is not the last
            ids[i] = SegmentId(e, start, start + t)
        return make_batch(self.base.dataset, ids)


def class_shift(sampler, dataset: EpisodeDataset) -> torch.Tensor:
    """log(frequency of each reward class in the sampler's batches / in the dataset), (3,); 0 for a class the
    dataset does not hold (Breakout's -1), whose logit then stays as it is."""
    counts = torch.zeros(3)
    for _ in range(SHARE_BATCHES):
        batch = sampler.sample()
        rew = batch.rew[:, :-1][batch.mask_padding[:, :-1]]
        counts += torch.bincount(rew.sign().long() + 1, minlength=3).float()
    data = torch.tensor(dataset.counts_rew, dtype=torch.float32)
    seen = (data > 0) & (counts > 0)
    return torch.where(seen, (counts / counts.sum()).log() - (data / data.sum()).log(), 0.0)


def held_out_logits(model: RewEndModel, batches: list) -> tuple[torch.Tensor, torch.Tensor]:
    """The reward logits (N, 3) and target classes (N,) of the unpadded transitions of `batches`."""
    model.eval()
    with torch.no_grad():
        pairs = [model.transition_logits(batch)[:2] for batch in batches]
    model.train()
    return torch.cat([p[0] for p in pairs]), torch.cat([p[1] for p in pairs])


def scores(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """Loss of the reward head and recall / precision of the rewarded transitions (either sign), and the recall of
    each sign (`recall_neg`, `recall_pos`)."""
    pred = logits.argmax(1)
    hits = int(((pred == target) & (target != 1)).sum())
    out = {
        "loss": float(torch.nn.functional.cross_entropy(logits, target)),
        "recall": hits / max(1, int((target != 1).sum())),
        "precision": hits / max(1, int((pred != 1).sum())),
    }
    for name, c in (("neg", 0), ("pos", 2)):
        out[f"recall_{name}"] = int(((pred == c) & (target == c)).sum()) / max(1, int((target == c).sum()))
    return out


def world_model_frames(path: str, steps: int | None) -> tuple[DiffusionSampler, Any]:
    """The next-frame sampler of a run folder's (or checkpoint's) denoiser, with its run's settings, and its
    reward/termination model (or None)."""
    try:
        loaded = load_world_model(path)
    except LoadError as e:
        raise SystemExit(f"--world-model: {e}") from None
    cfg = loaded.sampler  # the run's imagination settings (the default's for a bare checkpoint)
    if steps is not None:
        cfg = dataclasses.replace(cfg, num_steps_denoising=steps)
    return DiffusionSampler(loaded.agent.denoiser.eval(), cfg), loaded.agent.rew_end_model


def held_out_line(model: RewEndModel, real: list, imagined: list | None, shift: torch.Tensor | None) -> str:
    """The held-out scores, on the real frames (and adjusted for the rewarded share's shift), then on the imagined
    ones."""
    logits, target = held_out_logits(model, real)
    s = scores(logits, target)
    line = f"held-out loss {s['loss']:.3f}, rewarded recall {s['recall']:.2f}, precision {s['precision']:.2f}"
    if shift is not None:
        a = scores(logits - shift, target)
        line += f"; adjusted {a['loss']:.3f}, {a['recall']:.2f}, {a['precision']:.2f}"
    line += f"; recall -1 / +1 {s['recall_neg']:.2f} / {s['recall_pos']:.2f}"
    if imagined is not None:
        i = scores(*held_out_logits(model, imagined))
        line += (
            f"; imagined frames: loss {i['loss']:.3f}, recall -1 / +1 {i['recall_neg']:.2f} / "
            f"{i['recall_pos']:.2f}, precision {i['precision']:.2f}"
        )
    return line


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
    parser.add_argument("--rewarded-share", type=float, default=0.0)
    parser.add_argument("--world-model", metavar="MODEL", help="score held-out imagined frames of this model")
    parser.add_argument("--imagined-share", type=float, default=0.0, help="needs --world-model")
    parser.add_argument("--steps", type=int, help="Euler steps per imagined frame (default: the run's)")
    parser.add_argument(
        "--start-from-world-model",
        action="store_true",
        help="start from --world-model's reward/termination model (scored before the first update too)",
    )
    args = parser.parse_args(argv)
    if not 0.0 <= args.imagined_share <= 1.0:
        parser.error(f"--imagined-share must be in [0, 1], got {args.imagined_share}")
    if args.imagined_share > 0 and args.world_model is None:
        parser.error("--imagined-share needs --world-model (whose denoiser draws the frames)")
    if args.start_from_world_model and args.world_model is None:
        parser.error("--start-from-world-model needs --world-model")
    if args.updates < 1 or args.every < 1:
        parser.error(f"--updates and --every must be >= 1, got {args.updates} and {args.every}")
    if not 0.0 <= args.rewarded_share <= 1.0:
        parser.error(f"--rewarded-share must be in [0, 1], got {args.rewarded_share}")
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    try:
        train = open_episodes(args.train, "TRAIN_DIR", "train", cache_in_ram=True)
        heldout = open_episodes(args.heldout, "HELDOUT_DIR", "heldout", cache_in_ram=True)
    except DriftError as e:
        raise SystemExit(str(e)) from None
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
    imagined_batches, frames, start_model = None, None, None
    if args.world_model is not None:
        frames, start_model = world_model_frames(args.world_model, args.steps)
        every_row = ImaginedFrames(frames, 32)
        imagined_batches = [every_row(b)[0] for b in held_batches]
    shift = None
    if args.rewarded_share > 0:
        sampler = RewardedShareSampler(sampler, rewarded_steps(train), args.rewarded_share, args.seed)
        shift = class_shift(sampler, train)
    imagined_rows = round(args.imagined_share * training.batch_size)
    if args.start_from_world_model:  # its own weights and shapes (the preset's settings train it)
        if start_model is None:
            raise SystemExit(f"--start-from-world-model: {args.world_model} has no reward/termination model")
        model = copy.deepcopy(start_model).train()
    # The trainer's own updates: its optimizer, warm-up, gradient accumulation and clipping.
    opt, sched = configure_optimizer(model, cfg.rew_end_model.optimizer, training.lr_warmup_steps)
    comp = ComponentState(
        "rew_end_model",
        model,
        RewEndObjective(model, imagined=ImaginedFrames(frames, imagined_rows) if imagined_rows else None),
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
    if shift is not None:
        factors = "/".join(
            f"{f:.2f}" if n > 0 else "-" for f, n in zip(shift.exp().tolist(), train.counts_rew, strict=True)
        )
        print(
            f"--rewarded-share {args.rewarded_share}: classes -1/0/+1 {factors} times as frequent as in the data"
        )
    if args.start_from_world_model:
        print("update 0: " + held_out_line(model, held_batches, imagined_batches, shift), flush=True)
    start, done = time.perf_counter(), 0
    while done < args.updates:
        steps = min(args.every, args.updates - done)
        metrics = train_component(comp, steps, show_progress=False)
        done += steps
        line = (
            f"update {done} ({time.perf_counter() - start:.0f} s): training loss "
            f"{metrics['rew_end_model/loss_rew']:.3f}; "
        )
        print(line + held_out_line(model, held_batches, imagined_batches, shift), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
