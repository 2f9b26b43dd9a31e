"""Do more denoiser updates, or a wider denoiser, give imagined frames that show the rewards? The denoiser alone,
trained on a dataset's segments, its one-step frames read by a fixed reward model on held-out ones.

    python scripts/denoiser_alone.py TRAIN_DIR HELDOUT_DIR --world-model MODEL [--config-name atari_cpu]
        [--from-scratch] [--updates 4000] [--every 500] [--threads 2] [--steps N] [--save DIR] [--weights FILE]
        [override ...]

MODEL: a run folder (its latest agent) or an agent checkpoint. Its reward/termination model stays fixed and reads
the frames; its denoiser is trained further (`--from-scratch`: a new one of the preset's networks, with Hydra
overrides such as `agent.denoiser.inner_model.channels=[64,64,64]`), with the preset's optimizer, warm-up, batch
and precision and the trainer's own update function (a new optimizer: the checkpoint holds weights only).

Every `--every` updates, on 10 batches of 32 held-out segments of HELDOUT_DIR (drawn once), the denoiser draws every
frame whose 4 previous steps are real from those real frames (one step, imagination's sampler settings or `--steps`
Euler steps, under the preset's precision), as `rew_end_model.training.imagined_share` does. Printed: the held-out
denoising loss; the imagined frames' mean squared error against the real ones (frames in [0, 1]) beside that of
copying the last real frame; the reward model on the imagined frames: its loss, how many transitions it reads as
-1 / +1 (its most likely class) against how many had them, and its mean probability of the true sign where a
reward was. The held-out scores draw the same noise at every line. Update 0 scores the starting denoiser, after a
line with the same reward model on the real frames. A denoiser whose frames the reward model reads as it reads the
real ones shows the rewards; one whose frames give rewards at the wrong transitions is what the actor-critic would
learn from.

`--save DIR`: the denoiser's weights after each line (DIR/denoiser_NNNNN.pt; a folder that already holds such files
is refused); `--weights FILE`: start from such weights (`--updates 0`: only score them).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import dataclasses
import sys
import time
from pathlib import Path

import torch

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.config.derived import denoiser_seq_length, rew_end_seq_length
from diamond_wm.data.sampling import SegmentSampler
from diamond_wm.evaluation.drift_run import DriftError, load_world_model, open_episodes
from diamond_wm.loading.agent import LoadError
from diamond_wm.models.agent import with_num_actions
from diamond_wm.models.diffusion.factory import build_denoiser
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.runtime.atomic import atomic_torch_save
from diamond_wm.runtime.precision import autocast
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.imagined_frames import ImaginedFrames
from diamond_wm.training.objectives import DenoiserObjective
from diamond_wm.training.optim import configure_optimizer

HELDOUT_BATCHES = 10
HELDOUT_SEED = 123  # the held-out segments and the noise of the held-out denoising loss


def reading(model: RewEndModel, batches: list) -> str:
    """The reward model's reading of `batches`' transitions: loss, recall per sign, its most likely class's counts
    of -1 / +1 against the real ones, its mean probability of the true sign where a reward was."""
    model.eval()
    with torch.no_grad():
        pairs = [model.transition_logits(b)[:2] for b in batches]
    logits, target = torch.cat([p[0] for p in pairs]).float(), torch.cat([p[1] for p in pairs])
    pred, prob = logits.argmax(1), logits.softmax(1)
    parts = [f"loss {float(torch.nn.functional.cross_entropy(logits, target)):.3f}"]
    for name, c in (("-1", 0), ("+1", 2)):
        real = target == c
        hits = int((pred[real] == c).sum())
        true_prob = float(prob[real, c].mean()) if real.any() else float("nan")
        parts.append(
            f"{name}: read {int((pred == c).sum())} (real {int(real.sum())}, {hits} at them), "
            f"p(true) {true_prob:.3f}"
        )
    return ", ".join(parts)


def one_step_mse(frames: ImaginedFrames, real: list, imagined: list) -> tuple[float, float]:
    """Mean squared error (frames scaled to [0, 1], as `diamond eval drift`) of the imagined frames against the real
    ones at the same steps, and of the real frame before each (copying the last frame) against them."""
    err, copy_err, count = 0.0, 0.0, 0
    for b, i in zip(real, imagined, strict=True):
        seg, step = frames.positions(b)
        target = b.obs[seg, step]
        err += float(((i.obs[seg, step] - target) / 2).pow(2).mean(dim=(1, 2, 3)).sum())
        copy_err += float(((b.obs[seg, step - 1] - target) / 2).pow(2).mean(dim=(1, 2, 3)).sum())
        count += int(seg.numel())
    return err / max(1, count), copy_err / max(1, count)


@contextlib.contextmanager
def fixed_noise():
    """Torch's global generator seeded with HELDOUT_SEED inside, restored after: the held-out scores draw the same
    noise at every line (the training draws go on as if they had not run)."""
    state = torch.random.get_rng_state()
    torch.manual_seed(HELDOUT_SEED)
    try:
        yield
    finally:
        torch.random.set_rng_state(state)


def held_out_denoising_loss(objective: DenoiserObjective, batches: list) -> float:
    """The mean denoising loss of `batches`."""
    objective.eval()
    with torch.no_grad():
        loss = sum(float(objective(b)[0]) for b in batches) / len(batches)
    objective.train()
    return loss


def check_save_folder(parser: argparse.ArgumentParser, save: Path) -> None:
    """Refuse a --save folder that is a file or already holds weights: a second run would replace them."""
    if save.exists() and not save.is_dir():
        parser.error(f"--save {save}: not a folder")
    held = sorted(p.name for p in save.glob("denoiser_*.pt")) if save.is_dir() else []
    if held:
        parser.error(
            f"--save {save}: already holds {len(held)} denoiser weight file(s) ({', '.join(held[:3])}"
            f"{', ...' if len(held) > 3 else ''}); give a new or empty folder"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("train", help="folder of training episodes")
    parser.add_argument("heldout", help="folder of held-out episodes")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of the preset")
    parser.add_argument("--world-model", metavar="MODEL", required=True)
    parser.add_argument("--config-name", default="atari_cpu")
    parser.add_argument("--from-scratch", action="store_true", help="a new denoiser of the preset's networks")
    parser.add_argument("--updates", type=int, default=4000)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--steps", type=int, help="Euler steps per imagined frame (default: the run's)")
    parser.add_argument("--save", metavar="DIR", help="save the denoiser's weights after each line here")
    parser.add_argument("--weights", metavar="FILE", help="start from these denoiser weights (from --save)")
    args = parser.parse_intermixed_args(argv)
    if args.updates < 0 or args.every < 1:
        parser.error(f"--updates must be >= 0 and --every >= 1, got {args.updates} and {args.every}")
    if args.steps is not None and args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    save = Path(args.save) if args.save else None
    if save is not None:
        check_save_folder(parser, save)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    try:
        train = open_episodes(args.train, "TRAIN_DIR", "train", cache_in_ram=True)
        heldout = open_episodes(args.heldout, "HELDOUT_DIR", "heldout", cache_in_ram=True)
    except DriftError as e:
        raise SystemExit(str(e)) from None
    try:
        loaded = load_world_model(args.world_model)
    except LoadError as e:
        raise SystemExit(f"--world-model: {e}") from None
    reward_model = loaded.agent.rew_end_model
    if reward_model is None:
        raise SystemExit(
            f"--world-model: {args.world_model} has no reward/termination model to read the frames"
        )
    cfg = to_trainer_config(compose_trainer_config(args.overrides, config_name=args.config_name))
    if args.from_scratch:
        agent_cfg = with_num_actions(cfg.agent, train.action_spec.num_action_dims)
        denoiser = build_denoiser(agent_cfg.denoiser)
    else:
        denoiser = copy.deepcopy(loaded.agent.denoiser)
    if args.weights is not None:
        try:
            denoiser.load_state_dict(torch.load(args.weights, map_location="cpu", weights_only=True))
        except (OSError, RuntimeError) as e:
            raise SystemExit(f"--weights {args.weights}: not this denoiser's weights ({e})") from None
    denoiser.train()
    sampler_cfg = loaded.sampler
    if args.steps is not None:
        sampler_cfg = dataclasses.replace(sampler_cfg, num_steps_denoising=args.steps)
    frames = ImaginedFrames(denoiser.build_sampler(sampler_cfg), 32)

    training = cfg.denoiser.training
    sampler = SegmentSampler(
        train,
        training.batch_size,
        denoiser_seq_length(cfg),
        training.sample_weights,
        generator=torch.Generator().manual_seed(args.seed),
    )
    held_gen = torch.Generator().manual_seed(HELDOUT_SEED)
    held_denoiser = SegmentSampler(heldout, 32, denoiser_seq_length(cfg), None, generator=held_gen)
    held_denoiser_batches = [held_denoiser.sample() for _ in range(HELDOUT_BATCHES)]
    held = SegmentSampler(
        heldout, 32, rew_end_seq_length(cfg), None, can_sample_beyond_end=True, generator=held_gen
    )
    held_batches = [held.sample() for _ in range(HELDOUT_BATCHES)]
    objective = DenoiserObjective(denoiser, cfg.denoiser.sigma_distribution)
    opt, sched = configure_optimizer(denoiser, cfg.denoiser.optimizer, training.lr_warmup_steps)
    comp = ComponentState(
        "denoiser",
        denoiser,
        objective,
        sampler.sample,
        opt,
        sched,
        training.grad_acc_steps,
        training.max_grad_norm,
        precision=cfg.training.precision,
    )
    params = sum(p.numel() for p in denoiser.parameters())
    start_from = args.weights or ("new" if args.from_scratch else f"from {loaded.checkpoint}")
    print(
        f"{train.num_steps} training steps, {heldout.num_steps} held-out; denoiser of {params} parameters "
        f"({start_from}), batch {training.batch_size}, "
        f"lr {cfg.denoiser.optimizer.lr:g}, {cfg.training.precision}; {sampler_cfg.num_steps_denoising} Euler "
        f"step(s) per frame"
    )
    print("real frames: " + reading(reward_model, held_batches), flush=True)
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)

    def line(done: int, elapsed: float) -> None:
        with fixed_noise(), autocast(torch.device("cpu"), cfg.training.precision):  # as in imagination
            imagined = [frames(b)[0] for b in held_batches]
        with fixed_noise():
            loss = held_out_denoising_loss(objective, held_denoiser_batches)
        mse, copy_mse = one_step_mse(frames, held_batches, imagined)
        print(
            f"update {done} ({elapsed:.0f} s): held-out denoising loss {loss:.4f}; one-step MSE {mse:.5f} "
            f"(copying the last frame {copy_mse:.5f}); imagined frames: " + reading(reward_model, imagined),
            flush=True,
        )
        if save is not None:
            atomic_torch_save(denoiser.state_dict(), save / f"denoiser_{done:05d}.pt")

    line(0, 0.0)
    start, done = time.perf_counter(), 0
    while done < args.updates:
        steps = min(args.every, args.updates - done)
        train_component(comp, steps, show_progress=False)
        done += steps
        line(done, time.perf_counter() - start)
    return 0


if __name__ == "__main__":
    sys.exit(main())
