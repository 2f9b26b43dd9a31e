"""CNN-LSTM actor-critic: conv encoder with small residual blocks and max-pooling, LSTMCell, policy/value heads."""

from __future__ import annotations

from typing import NamedTuple, Optional

import torch
from torch import nn

from diamond_wm.config.agent import ActorCriticConfig
from diamond_wm.models.blocks import Conv1x1, Conv3x3, GroupNorm, to_channels_last
from diamond_wm.models.init import init_lstm

HxCx = tuple[torch.Tensor, torch.Tensor]


class ActorCriticOutput(NamedTuple):
    """Policy logits (N, A), state value (N,) and the new LSTM state ((N, lstm_dim), (N, lstm_dim))."""

    logits_act: torch.Tensor
    val: torch.Tensor
    hx_cx: HxCx


class SmallResBlock(nn.Module):
    """x -> skip(x) + conv3x3(SiLU(GroupNorm(x))), with a 1x1 skip projection when channels change."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.f = nn.Sequential(GroupNorm(in_channels), nn.SiLU(), Conv3x3(in_channels, out_channels))
        self.skip_projection = (
            nn.Identity() if in_channels == out_channels else Conv1x1(in_channels, out_channels)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip_projection(x) + self.f(x)  # (N, C_out, H, W)


class ActorCriticEncoder(nn.Module):
    """Conv3x3, then per level a SmallResBlock and (if `down`) a 2x2 max-pooling."""

    def __init__(self, img_channels: int, channels: list[int], down: list[int]) -> None:
        super().__init__()
        if len(channels) != len(down):
            raise ValueError(f"actor-critic channels {channels} and down {down} differ in length")
        layers: list[nn.Module] = [Conv3x3(img_channels, channels[0])]
        c_in = channels[0]
        for c_out, d in zip(channels, down, strict=True):
            layers.append(SmallResBlock(c_in, c_out))
            if d:
                layers.append(nn.MaxPool2d(2))
            c_in = c_out
        self.encoder = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(to_channels_last(x))  # (N, channels[-1], H / 2^sum(down), W / 2^sum(down))


class ActorCritic(nn.Module):
    """Policy and value of a frame given the recurrent state; zero-initialised heads (the value: the critic head's
    output times `cfg.value_scale`)."""

    def __init__(self, cfg: ActorCriticConfig) -> None:
        super().__init__()
        if cfg.num_actions is None or cfg.num_actions < 1:
            raise ValueError(f"ActorCritic needs num_actions >= 1, got {cfg.num_actions!r}")
        self.cfg = cfg
        self.lstm_dim = cfg.lstm_dim
        self.encoder = ActorCriticEncoder(cfg.img_channels, cfg.channels, cfg.down)
        side = cfg.img_size // 2 ** sum(1 for d in cfg.down if d)
        if side < 1:
            raise ValueError(f"img_size={cfg.img_size} is too small for {sum(cfg.down)} poolings")
        self.lstm = nn.LSTMCell(cfg.channels[-1] * side * side, cfg.lstm_dim)
        self.critic_linear = nn.Linear(cfg.lstm_dim, 1)
        self.actor_linear = nn.Linear(cfg.lstm_dim, cfg.num_actions)
        init_lstm(self.lstm)
        for head in (self.critic_linear, self.actor_linear):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, obs: torch.Tensor, hx_cx: Optional[HxCx] = None) -> ActorCriticOutput:
        """obs (N, C, H, W) in [-1, 1], hx_cx ((N, lstm_dim), (N, lstm_dim)) or None for zeros."""
        if obs.ndim != 4:
            raise ValueError(f"obs must be (N, C, H, W), got shape {tuple(obs.shape)}")
        # The LSTM cell in its parameters' dtype: under bf16 autocast the encoder outputs bf16, and LSTMCell has
        # no autocast rule (a no-op in float32).
        x = self.encoder(obs).flatten(start_dim=1).to(self.lstm.weight_ih.dtype)  # (N, D)
        if hx_cx is not None:
            hx_cx = (hx_cx[0].to(x.dtype), hx_cx[1].to(x.dtype))
        hx, cx = self.lstm(x, hx_cx)  # (N, lstm_dim) each
        logits_act = self.actor_linear(hx)  # (N, A)
        val = self.critic_linear(hx).squeeze(1)  # (N,)
        if self.cfg.value_scale != 1.0:
            val = val * self.cfg.value_scale
        return ActorCriticOutput(logits_act, val, (hx, cx))
