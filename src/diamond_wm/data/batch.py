"""The batch of segments that training code hands to the models' losses (no data-loading code here)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import torch


@dataclass
class Batch:
    """B segments of T steps. Frames are floats in [-1, 1]; padded steps have `mask_padding` False.

    obs (B, T, C, H, W) float32, act (B, T) int64 or (B, T, D) float32 (multi-hot), rew (B, T) float32, end (B, T) uint8, trunc (B, T) uint8,
    mask_padding (B, T) bool, info: one dict per segment (e.g. `final_observation` (C, H, W) of a terminated
    episode whose end lies inside the segment), segment_ids: where each segment came from.
    """

    obs: torch.Tensor
    act: torch.Tensor
    rew: torch.Tensor
    end: torch.Tensor
    trunc: torch.Tensor
    mask_padding: torch.Tensor
    info: list[dict[str, Any]] = field(default_factory=list)
    segment_ids: list[Any] = field(default_factory=list)
    full_res: Optional[torch.Tensor] = (
        None  # (B, T, C, H', W'): full-resolution frames of each segment (upsampler)
    )

    def to(self, device: torch.device | str) -> Batch:
        """A copy with every tensor on `device`."""
        move = lambda x: x.to(device, non_blocking=True)  # noqa: E731
        info = [{k: move(v) if torch.is_tensor(v) else v for k, v in d.items()} for d in self.info]
        return Batch(
            move(self.obs),
            move(self.act),
            move(self.rew),
            move(self.end),
            move(self.trunc),
            move(self.mask_padding),
            info,
            list(self.segment_ids),
            move(self.full_res) if self.full_res is not None else None,
        )

    def padded(self, size: int) -> Batch:
        """This batch with padding segments appended up to `size` segments (itself when it has `size`): zero
        frames, actions, rewards and ends, all masked as padding (`mask_padding` False), which no loss counts."""
        b = self.obs.shape[0]
        if isinstance(size, bool) or not isinstance(size, int) or size < b:
            raise ValueError(
                f"cannot pad a batch of {b} segments to size={size!r}: expected an integer >= {b}"
            )
        if size == b:
            return self
        pad = lambda x: torch.cat([x, x.new_zeros(size - b, *x.shape[1:])])  # noqa: E731
        return Batch(
            pad(self.obs),
            pad(self.act),
            pad(self.rew),
            pad(self.end),
            pad(self.trunc),
            pad(self.mask_padding),
            list(self.info),
            list(self.segment_ids),
            pad(self.full_res) if self.full_res is not None else None,
        )
