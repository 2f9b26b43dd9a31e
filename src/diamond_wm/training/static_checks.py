"""A static dataset against the networks that take it, checked before a run starts: the U-Nets take frames of
`img_channels` channels; the reward/termination model and the actor-critic square frames of `img_size`
(`env.train.size` in the packaged presets), the size their LSTM input was built for; the actor-critic chooses
among discrete actions."""

from __future__ import annotations

from diamond_wm.config.actions import ActionSpec
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.dataset import EpisodeDataset


def check_static_dataset(cfg: TrainerConfig, dataset: EpisodeDataset, spec: ActionSpec) -> None:
    """ValueError (one line naming the dataset, what it holds and the key to change) unless the configured
    networks take `dataset`'s frames and its actions of `spec`."""
    if cfg.agent.actor_critic is not None and not spec.is_discrete:
        raise ValueError(
            f"static_dataset.path={cfg.static_dataset.path} has {spec.describe()}, but the actor-critic chooses "
            "among discrete actions: train the world model alone, agent.actor_critic=null"
        )
    _check_frames(cfg, dataset)


def _check_frames(cfg: TrainerConfig, dataset: EpisodeDataset) -> None:
    shape = dataset.frame_shape  # (C, H, W)
    if shape is None:
        return
    c, h, w = shape
    key = f"static_dataset.path={cfg.static_dataset.path}"
    for part in ("denoiser", "upsampler"):
        den = getattr(cfg.agent, part)
        if den is not None and den.inner_model.img_channels != c:
            raise ValueError(
                f"{key} has frames of {c} channels but agent.{part}.inner_model.img_channels="
                f"{den.inner_model.img_channels}: expected {c}"
            )
    sized = [p for p in ("rew_end_model", "actor_critic") if getattr(cfg.agent, p) is not None]
    for part in sized:
        size = getattr(cfg.agent, part).img_size
        if (h, w) == (size, size):
            continue
        if h == w:
            raise ValueError(
                f"{key} has {h}x{w} frames but agent.{part}.img_size={size}: set env.train.size={h} (the img_size "
                "of the packaged agent presets)"
            )
        nulls = " ".join(f"agent.{p}=null" for p in sized)
        raise ValueError(
            f"{key} has {h}x{w} frames but agent.{part} takes square frames ({size}x{size}): import the dataset at "
            f"a square size (diamond dataset import --size NxN), or train the denoiser alone: {nulls}"
        )
