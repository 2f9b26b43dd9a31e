"""Does the world model imagine the rewards that real play gets? Rewards in imagination against real ones.

    python scripts/imagined_rewards.py MODEL DATASET_DIR [--per-episode 20] [--horizon 15] [--steps N] [--seed 0]
                                       [--one-step] [--picture PNG]

MODEL: a run folder (its latest agent) or an agent checkpoint; DATASET_DIR: a folder of real episodes (e.g. the
run's dataset/test). From `--per-episode` windows of each episode, the world model imagines `--horizon` steps
autoregressively under the recorded actions (as `diamond eval drift` does), with its reward/termination model
drawing each imagined step's reward as in the actor-critic's training; `--steps`: Euler steps per imagined frame
(default: the run's); `--one-step`: each step imagined from the real frames before it instead (one step of the world
model at every real transition, without drift); `--picture PNG`: up to 6 rewarded steps of the windows, their real
next frame beside the one imagined from the real frames before it. Printed for each reward sign: how many steps of
the windows had it in real play, how many in imagination, and at how many real ones imagination had it too; then the
same reward model on the real frames of the windows (its most likely class, and its mean probability of the sign
where the sign was and elsewhere). A reward
model that finds the rewards in real frames but not in imagined ones says the imagined frames lack what marks them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import imageio.v3 as iio
import numpy as np
import torch

from diamond_wm.data.frames import to_float_frames
from diamond_wm.evaluation.drift import DriftError, imagined_steps, select_contexts
from diamond_wm.evaluation.drift_run import load_world_model, open_test_dataset
from diamond_wm.evaluation.video import GAP_PX, panels
from diamond_wm.loading.agent import LoadError
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.world_model import WorldModel

PICTURE_SCALE = 4  # pixels per frame pixel in --picture


def autoregressive_rewards(world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int):
    """Sampled rewards (N, horizon) of `horizon` imagined steps from each window's first n real frames."""
    rows = range(obs.shape[0])
    return torch.stack([out.rew.cpu() for out in imagined_steps(world_model, obs, act, horizon, rows)], 1)


@torch.no_grad()
def real_logits(world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int) -> torch.Tensor:
    """The reward model's logits (N, horizon, 3) on the windows' real transitions."""
    n = world_model.num_steps_conditioning
    t = n + horizon - 1
    frames = to_float_frames(obs[:, : t + 1])
    logits, _, _ = world_model.rew_end_model(frames[:, :t], act[:, :t], frames[:, 1:])
    return logits[:, n - 1 :].cpu()


def one_step_rewards(
    world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int
) -> torch.Tensor:
    """Sampled rewards (N, horizon), each step's next frame imagined from the real frames before it (its own
    draws: rows k * N .. k * N + N - 1 for step k), not from imagined ones: what one step of the world model
    shows, without drift."""
    n, count = world_model.num_steps_conditioning, obs.shape[0]
    rewards = []
    for k in range(horizon):
        rows = range(k * count, (k + 1) * count)
        (out,) = imagined_steps(world_model, obs[:, k : k + n], act[:, k : k + n], 1, rows)
        rewards.append(out.rew.cpu())
    return torch.stack(rewards, 1)


def save_picture(
    world_model: WorldModel,
    obs: torch.Tensor,
    act: torch.Tensor,
    real: torch.Tensor,
    path: str,
    count: int = 6,
) -> int:
    """A PNG of up to `count` rewarded steps of the windows, one row each: the real frame, the real next frame and
    the next frame imagined from the real frames before it (one step). Returns how many rows it drew."""
    n = world_model.num_steps_conditioning
    where = (real != 0).nonzero()[:count].tolist()  # (window, step) pairs
    rows = []
    for j, (w, k) in enumerate(where):
        (out,) = imagined_steps(world_model, obs[w : w + 1, k : k + n], act[w : w + 1, k : k + n], 1, [j])
        frames = to_float_frames(obs[w, k + n - 1 : k + n + 1])
        rows.append((frames[0], frames[1], out.obs[0].clamp(-1, 1).cpu()))
    if not rows:
        return 0
    columns = [torch.stack(c) for c in zip(*rows, strict=True)]
    images = panels(columns, scale=PICTURE_SCALE, labels=("frame", "next", "imagined next"))
    label_h = images[0].shape[0] - PICTURE_SCALE * obs.shape[-2]  # the label row, kept on the first row only
    gap = np.full((GAP_PX, images[0].shape[1], 3), 255, dtype=np.uint8)
    parts = [images[0]] + [x for image in images[1:] for x in (gap, image[label_h:])]
    iio.imwrite(path, np.concatenate(parts, axis=0))
    return len(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--per-episode", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=15)
    parser.add_argument("--steps", type=int, help="Euler steps per imagined frame (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="where the windows start")
    parser.add_argument(
        "--one-step",
        action="store_true",
        help="imagine each step from the real frames before it, not autoregressively",
    )
    parser.add_argument(
        "--picture", metavar="PNG", help="save rewarded steps' real and one-step imagined next frames there"
    )
    args = parser.parse_args(argv)
    try:
        loaded = load_world_model(args.model)
        dataset = open_test_dataset(args.dataset)
        agent = loaded.agent.eval()
        if agent.rew_end_model is None:
            raise LoadError(f"{loaded.checkpoint} has no reward/termination model")
        n = agent.denoiser.cfg.inner_model.num_steps_conditioning
        contexts = select_contexts(dataset, n, args.horizon, per_episode=args.per_episode, seed=args.seed)
    except (LoadError, DriftError, FileNotFoundError) as e:
        sys.exit(f"imagined_rewards: {e}")
    sampler_cfg = loaded.sampler  # the run's imagination settings (the default's for a bare checkpoint)
    if args.steps is not None:
        sampler_cfg = dataclasses.replace(sampler_cfg, num_steps_denoising=args.steps)
    horizon = contexts.horizon
    real = torch.stack(
        [
            dataset.load_episode(i).rew[start + n - 1 : start + n - 1 + horizon].sign()
            for i, start in zip(contexts.episodes, contexts.starts, strict=True)
        ]
    )  # (N, horizon): the reward of each imagined step's real transition
    world_model = WorldModel(DiffusionSampler(agent.denoiser, sampler_cfg), agent.rew_end_model)
    draw = one_step_rewards if args.one_step else autoregressive_rewards
    imagined = draw(world_model, contexts.obs, contexts.act, horizon)
    logits = real_logits(world_model, contexts.obs, contexts.act, horizon)
    pred, prob = logits.argmax(-1) - 1, logits.softmax(-1)
    print(
        f"{loaded.checkpoint}: {contexts.num_contexts} windows of {horizon} steps, "
        f"{sampler_cfg.num_steps_denoising} Euler step(s) per imagined frame"
        + (", each from the real frames before it" if args.one_step else "")
    )
    for sign in (-1, 1):
        r, i, p = real == sign, imagined == sign, pred == sign
        print(
            f"reward {sign:+d}: real {int(r.sum())}, imagined {int(i.sum())} (at a real one: {int((r & i).sum())}); "
            f"on the real frames the reward model's most likely class {int(p.sum())} (at a real one: "
            f"{int((r & p).sum())}), mean probability {float(prob[..., sign + 1][r].mean()) if r.any() else 0:.3f} "
            f"where it was, {float(prob[..., sign + 1][~r].mean()):.4f} elsewhere"
        )
    print(
        f"return per window: real {float(real.sum(1).mean()):+.3f}, imagined {float(imagined.sum(1).mean()):+.3f}"
    )
    if args.picture:
        drawn = save_picture(world_model, contexts.obs, contexts.act, real, args.picture)
        print(
            f"{args.picture}: {drawn} rewarded steps"
            if drawn
            else f"no rewarded step to draw: {args.picture} not written"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
