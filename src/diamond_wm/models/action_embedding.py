"""`ActionEmbedding`: one weight [num_action_dims, C] that embeds discrete and multi-hot actions alike.

An int64 index selects its row (`nn.Embedding`'s lookup); a float multi-hot vector (..., D) is multiplied by the
weight, i.e. the sum of the rows of its hot entries, so the all-zero vector of padding embeds to zero and a one-hot
vector embeds exactly like its index. It is an `nn.Embedding`: same `weight` key, same initialisation (N(0, 1)),
and no weight decay, as for the published models' embeddings (`training.optim`).
"""

from __future__ import annotations

import torch
from torch import nn


class ActionEmbedding(nn.Embedding):
    """`nn.Embedding(num_action_dims, dim)` that also takes float multi-hot vectors (see the module docstring)."""

    def forward(self, act: torch.Tensor) -> torch.Tensor:
        """act (...) int64 indices or (..., D) float vectors -> (..., C)."""
        d = self.num_embeddings
        if act.is_floating_point():
            if act.size(-1) != d:
                raise ValueError(
                    f"multi-hot actions of shape {tuple(act.shape)}: expected (..., {d}) vectors"
                )
            return act.to(self.weight.dtype) @ self.weight  # (..., D) @ (D, C) -> (..., C)
        # An index out of range fails inside the lookup too, but on CPU as a bare IndexError and on CUDA as a device
        # assert: checked here where it costs no device sync (and not while compiling, where it would break the graph).
        if act.device.type == "cpu" and act.numel() and not torch.compiler.is_compiling():
            bad = (act < 0) | (act >= d)
            if bad.any():
                raise ValueError(
                    f"action indices {act[bad].unique().tolist()[:5]} out of range: expected [0, {d})"
                )
        return super().forward(act)
