"""Initialisation shared by the networks, so that fresh runs start alike."""

from __future__ import annotations

import torch
from torch import nn


@torch.no_grad()
def init_lstm(module: nn.Module) -> None:
    """LSTM / LSTMCell init: input weights xavier-uniform, recurrent weights orthogonal, biases 0, forget gate 1.

    PyTorch orders the gates (input, forget, cell, output), so the forget-gate bias is the second quarter of
    `bias_ih`; `bias_hh` stays 0, so the effective forget-gate bias is 1.
    """
    for name, p in module.named_parameters():
        if "weight_ih" in name:
            nn.init.xavier_uniform_(p)
        elif "weight_hh" in name:
            nn.init.orthogonal_(p)
        elif "bias_ih" in name:
            p.zero_()
            n = p.shape[0]
            p[n // 4 : n // 2] = 1.0
        elif "bias_hh" in name:
            p.zero_()
