"""The one-line summary of an epoch in the log (returns, losses, times and what is left), and the run's last line."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def epoch_summary(
    epoch: int,
    num_env_steps: int,
    m: dict[str, Any],
    components: Iterable[str],
    left: int,
    recent_epoch_s: list[float],
) -> str:
    """E.g. `epoch 3 | env steps 150 | denoiser 0.2 | ... | epoch 1.1s | 2 epochs left, ~0m03s`."""
    parts = [f"epoch {epoch}", f"env steps {num_env_steps}"]
    for key, label in (
        ("collect/return_mean", "train return"),
        ("test/return_mean", "test return"),
        ("denoiser/loss_denoising", "denoiser"),
        ("upsampler/loss_denoising", "upsampler"),
        ("rew_end_model/loss_total", "rew/end"),
        ("actor_critic/loss_total", "actor-critic"),
    ):
        if key in m:
            parts.append(f"{label} {m[key]:.4g}")
    times = [f"{n} {m[f'{n}/time_s']:.0f}s" for n in components if f"{n}/time_s" in m]
    if times:
        parts.append("time " + " ".join(times))
    parts.append(f"epoch {m.get('time/epoch_s', 0):.1f}s")
    if left and recent_epoch_s:
        eta = left * sum(recent_epoch_s) / len(recent_epoch_s)
        parts.append(f"{left} epoch{'s' if left > 1 else ''} left, ~{_format_duration(eta)}")
    return " | ".join(parts)


TEST_LOSSES = (  # a world model's score: its losses on the test episodes
    ("test/denoiser/loss_denoising", "denoiser"),
    ("test/upsampler/loss_denoising", "upsampler"),
    ("test/rew_end_model/loss_total", "rew/end"),
)


def final_summary(num_episodes: int, num_epochs: int, m: dict[str, Any]) -> str:
    """The run's last line: the mean return over its final test episodes; without any (a static dataset), the
    final test losses; else that it finished, and nothing more."""
    if num_episodes > 0:
        score = m.get("final/return_mean")
        return f"run finished: mean return over {num_episodes} test episodes " + (
            "n/a" if score is None else f"{score:.3f}"
        )
    epochs = f"{num_epochs} epoch{'' if num_epochs == 1 else 's'}"
    losses = [f"{label} {m[key]:.4g}" for key, label in TEST_LOSSES if key in m]
    if losses:
        return f"run finished after {epochs}: test losses " + " | ".join(losses)
    return f"run finished after {epochs} (no test episodes, no test losses)"


def _format_duration(seconds: float) -> str:
    minutes, s = divmod(int(seconds), 60)
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"
