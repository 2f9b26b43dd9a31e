"""Does the world model imagine the rewards that real play gets? Rewards in imagination against real ones.

    python scripts/imagined_rewards.py MODEL DATASET_DIR [--per-episode 20] [--horizon 15] [--steps N] [--seed 0]

MODEL: a run folder (its latest agent) or an agent checkpoint; DATASET_DIR: a folder of real episodes (e.g. the
run's dataset/test). From `--per-episode` windows of each episode, the world model imagines `--horizon` steps
autoregressively under the recorded actions (as `diamond eval drift` does), with its reward/termination model
drawing each imagined step's reward as in the actor-critic's training; `--steps`: Euler steps per imagined frame
(default: the run's). Printed for each reward sign: how many steps of the windows had it in real play, how many in
imagination, and at how many real ones imagination had it too; then the same reward model on the real frames of the
windows (its most likely class, and its mean probability of the sign where the sign was and elsewhere). A reward
model that finds the rewards in real frames but not in imagined ones says the imagined frames lack what marks them.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import torch

from diamond_wm.config.agent import DiffusionSamplerConfig
from diamond_wm.data.frames import to_float_frames
from diamond_wm.evaluation.drift import DriftError, select_contexts
from diamond_wm.evaluation.drift_run import load_world_model, open_test_dataset
from diamond_wm.loading.agent import LoadError
from diamond_wm.models.diffusion import DiffusionSampler
from diamond_wm.models.world_model import WorldModel


def imagined_and_real(world_model: WorldModel, obs: torch.Tensor, act: torch.Tensor, horizon: int):
    """Sampled imagined rewards (N, horizon) and the reward model's logits on the real frames (N, horizon, 3)."""
    n = world_model.num_steps_conditioning
    with torch.no_grad():
        generators = [world_model.generator(r) for r in range(obs.shape[0])]
        state = world_model.start((to_float_frames(obs[:, :n]), act[:, :n]), generators)
        imagined = [world_model.step(state, act[:, k + n - 1]).rew.cpu() for k in range(horizon)]
        t = n + horizon - 1
        frames = to_float_frames(obs[:, : t + 1])
        logits, _, _ = world_model.rew_end_model(frames[:, :t], act[:, :t], frames[:, 1:])
    return torch.stack(imagined, 1), logits[:, n - 1 :].cpu()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("dataset")
    parser.add_argument("--per-episode", type=int, default=20)
    parser.add_argument("--horizon", type=int, default=15)
    parser.add_argument("--steps", type=int, help="Euler steps per imagined frame (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="where the windows start")
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
    run_cfg = loaded.run_cfg
    sampler_cfg = (
        run_cfg.world_model_env.diffusion_sampler if run_cfg is not None else DiffusionSamplerConfig()
    )
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
    imagined, logits = imagined_and_real(world_model, contexts.obs, contexts.act, horizon)
    pred, prob = logits.argmax(-1) - 1, logits.softmax(-1)
    print(
        f"{loaded.checkpoint}: {contexts.num_contexts} windows of {horizon} steps, "
        f"{sampler_cfg.num_steps_denoising} Euler step(s) per imagined frame"
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
