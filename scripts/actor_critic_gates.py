"""Is the actor-critic's LSTM alive? Its gates on real frames, for each agent checkpoint given.

    python scripts/actor_critic_gates.py CHECKPOINT [CHECKPOINT ...] --dataset DATASET_DIR [--steps 64]

CHECKPOINT: agent checkpoints of runs (e.g. RUN/checkpoints/agent_versions/agent_epoch_00008.pt); DATASET_DIR: a
folder of real episodes (e.g. the run's dataset/test). The actor-critic plays back the first `--steps` frames of
the dataset's last episode from a zero state; printed per checkpoint, as means over those steps and the LSTM's
units: the input, forget and output gates (sigmoids), |tanh| of the cell input, |c|, |h|, the share of units whose
output gate is below 0.01 (shut: no gradient reaches the unit through h), the spread of h over time, and the
spread of the action logits across actions (0: a uniform policy whatever the frame), the mean value, and the value
ceiling: (sum |w| + |b| of the critic's linear head) times its `value_scale`, the largest |value| it can output, as
|h| <= 1.

A saturated LSTM (output gates at 1, |c| >> 1) turns into a shut one (output gates at 0) from which the actor-critic
cannot recover: its policy stays uniform whatever it is taught. A mean value near the ceiling says why it saturated:
the critic, sharing h with the actor, needs every unit at +-1 to reach its targets.
"""

from __future__ import annotations

import argparse
import sys

import torch

from diamond_wm.data import EpisodeDataset
from diamond_wm.data.frames import to_float_frames
from diamond_wm.loading.agent import LoadError, load_checkpoint
from diamond_wm.models.actor_critic import ActorCritic

COLUMNS = (
    "input",
    "forget",
    "|cell in|",
    "output",
    "|c|",
    "|h|",
    "shut",
    "h spread",
    "logit spread",
    "value",
    "value ceiling",
)


@torch.no_grad()
def gate_statistics(actor_critic: ActorCritic, obs: torch.Tensor) -> dict[str, float]:
    """The statistics of the module docstring for frames `obs` (T, C, H, W) in [-1, 1], played from a zero state."""
    lstm = actor_critic.lstm
    x = actor_critic.encoder(obs).flatten(1).to(lstm.weight_ih.dtype)  # (T, D)
    h = torch.zeros(1, lstm.hidden_size, dtype=x.dtype)
    c = torch.zeros_like(h)
    rows, hs, logits, values = [], [], [], []
    scale = actor_critic.cfg.value_scale  # the value is the head's output times it (1: the published critic)
    for t in range(len(x)):
        z = x[t : t + 1] @ lstm.weight_ih.T + lstm.bias_ih + h @ lstm.weight_hh.T + lstm.bias_hh
        i, f, g, o = z.chunk(4, dim=1)
        h, c = lstm(x[t : t + 1], (h, c))
        o = o.sigmoid()
        rows.append(
            torch.stack(
                [i.sigmoid().mean(), f.sigmoid().mean(), g.tanh().abs().mean(), o.mean(), c.abs().mean()]
                + [h.abs().mean(), (o < 0.01).float().mean()]
            )
        )
        hs.append(h)
        logits.append(actor_critic.actor_linear(h))
        values.append(actor_critic.critic_linear(h) * scale)
    means = torch.stack(rows).mean(0).tolist()
    critic = actor_critic.critic_linear
    ceiling = scale * (
        critic.weight.abs().sum() + critic.bias.abs().sum()
    )  # the largest |value| any h in [-1, 1] gives
    spreads = [
        torch.cat(hs).std(0).mean(),
        torch.cat(logits).std(1).mean(),
        torch.cat(values).mean(),
        ceiling,
    ]
    return dict(zip(COLUMNS, means + [float(s) for s in spreads], strict=True))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--steps", type=int, default=64)
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps must be a positive integer, got {args.steps}")
    try:
        dataset = EpisodeDataset(args.dataset, read_only=True)
    except (OSError, ValueError) as e:
        raise SystemExit(f"actor_critic_gates: {args.dataset}: {e}") from None
    if dataset.num_episodes == 0:
        raise SystemExit(f"actor_critic_gates: {args.dataset} holds no episode")
    last = dataset.num_episodes - 1
    obs = to_float_frames(dataset.load_steps(last, 0, args.steps).obs)
    print(f"{len(obs)} steps of episode {last} of {args.dataset}")
    print("checkpoint | " + " | ".join(COLUMNS))
    for path in args.checkpoints:
        try:
            agent = load_checkpoint(path, require_env=False).agent
        except (LoadError, ValueError, OSError) as e:
            raise SystemExit(f"actor_critic_gates: {path}: {e}") from None
        if agent.actor_critic is None:
            raise SystemExit(f"actor_critic_gates: {path} has no actor-critic")
        stats = gate_statistics(agent.actor_critic.eval(), obs)
        print(f"{path} | " + " | ".join(f"{v:.4g}" for v in stats.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
