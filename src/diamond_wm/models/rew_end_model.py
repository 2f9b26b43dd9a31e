"""Reward/termination model: encoder of (frame, next frame) conditioned on the action, LSTM, two heads."""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from diamond_wm.config.agent import RewEndModelConfig
from diamond_wm.data.batch import Batch
from diamond_wm.models.action_embedding import ActionEmbedding
from diamond_wm.models.blocks import Conv3x3, Downsample, ResBlocks, to_channels_last
from diamond_wm.models.classification_metrics import per_class_metrics
from diamond_wm.models.init import init_lstm

NUM_REW_CLASSES = 3  # sign of the reward: -1, 0, +1
NUM_END_CLASSES = 2  # continue, terminate
REW_CLASS_NAMES = ("neg", "zero", "pos")
END_CLASS_NAMES = ("continue", "end")

HxCx = tuple[torch.Tensor, torch.Tensor]


def lstm_step(lstm: nn.LSTM, x: torch.Tensor, hx_cx: Optional[HxCx]) -> tuple[torch.Tensor, HxCx]:
    """`lstm(x, hx_cx)` for a one-step sequence x (B, 1, D) of a 1-layer batch-first LSTM, through the LSTM cell.

    Same computation, but imagination and play feed one step at a time, and on CPU `nn.LSTM` goes through
    oneDNN's RNN, which re-packs the weights on every call: 3.2 ms against 0.3 ms for the cell at batch 1.
    """
    b = x.size(0)
    if hx_cx is None:
        h = c = x.new_zeros(b, lstm.hidden_size)
    else:
        h, c = hx_cx[0][0], hx_cx[1][0]  # (B, lstm_dim) each
    h, c = torch.lstm_cell(
        x[:, 0], (h, c), lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_ih_l0, lstm.bias_hh_l0
    )
    return h.unsqueeze(1), (h.unsqueeze(0), c.unsqueeze(0))  # (B, 1, lstm_dim), 2 x (1, B, lstm_dim)


class RewEndEncoder(nn.Module):
    """Down path of a U-Net (adaptive GroupNorm on the action embedding), then two attention ResBlocks."""

    def __init__(
        self,
        in_channels: int,
        cond_channels: int,
        depths: list[int],
        channels: list[int],
        attn_depths: list[int],
    ) -> None:
        super().__init__()
        if not len(depths) == len(channels) == len(attn_depths):
            raise ValueError(
                f"depths {depths}, channels {channels} and attn_depths {attn_depths} differ in length"
            )
        self.conv_in = Conv3x3(in_channels, channels[0])
        blocks = []
        for i, n in enumerate(depths):
            c1 = channels[max(0, i - 1)]
            c2 = channels[i]
            blocks.append(ResBlocks([c1] + [c2] * (n - 1), [c2] * n, cond_channels, bool(attn_depths[i])))
        blocks.append(ResBlocks([channels[-1]] * 2, [channels[-1]] * 2, cond_channels, attn=True))
        self.blocks = nn.ModuleList(blocks)
        self.downsamples = nn.ModuleList(
            [nn.Identity()] + [Downsample(c) for c in channels[:-1]] + [nn.Identity()]
        )

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(to_channels_last(x))  # (N, channels[0], H, W)
        for block, down in zip(self.blocks, self.downsamples, strict=True):
            x = down(x)
            x, _ = block(x, cond)
        return x  # (N, channels[-1], H / 2^(levels-1), W / 2^(levels-1))


class RewEndModel(nn.Module):
    """Predicts the sign of the reward (3 classes) and the termination (2 classes) of each transition."""

    def __init__(self, cfg: RewEndModelConfig) -> None:
        super().__init__()
        if cfg.num_actions is None or cfg.num_actions < 1:
            raise ValueError(f"RewEndModel needs num_actions >= 1, got {cfg.num_actions!r}")
        self.cfg = cfg
        self.lstm_dim = cfg.lstm_dim
        self.encoder = RewEndEncoder(
            2 * cfg.img_channels, cfg.cond_channels, cfg.depths, cfg.channels, cfg.attn_depths
        )
        self.act_emb = ActionEmbedding(cfg.num_actions, cfg.cond_channels)
        side = cfg.img_size // 2 ** (len(cfg.depths) - 1)
        self.lstm = nn.LSTM(cfg.channels[-1] * side * side, cfg.lstm_dim, batch_first=True)
        self.head = nn.Sequential(
            nn.Linear(cfg.lstm_dim, cfg.lstm_dim),
            nn.SiLU(),
            nn.Linear(cfg.lstm_dim, NUM_REW_CLASSES + NUM_END_CLASSES, bias=False),
        )
        init_lstm(self.lstm)

    def forward(
        self,
        obs: torch.Tensor,
        act: torch.Tensor,
        next_obs: torch.Tensor,
        hx_cx: Optional[HxCx] = None,
    ) -> tuple[torch.Tensor, torch.Tensor, HxCx]:
        """obs, next_obs (B, T, C, H, W), act (B, T) int64 or (B, T, D) float -> logits_rew (B, T, 3),
        logits_end (B, T, 2), (hx, cx)."""
        if obs.ndim != 5 or obs.shape != next_obs.shape:
            raise ValueError(
                f"obs and next_obs must be (B, T, C, H, W) of one shape, got {tuple(obs.shape)} "
                f"and {tuple(next_obs.shape)}"
            )
        b, t, c, h, w = obs.shape
        if act.shape[:2] != (b, t) or act.ndim != (3 if act.is_floating_point() else 2):
            raise ValueError(
                f"act must be (B, T) = {(b, t)} or (B, T, D) vectors, got shape {tuple(act.shape)}"
            )
        # The whole model in its parameters' dtype (float32), autocast or not. In bf16 autocast, `make demo`'s
        # reward/termination model learned 3-4 epochs later than in float32 on one seed of five, too late for the
        # policy (+0.98 in float32, -0.16 in bf16; +0.98 with this model in float32 and the rest in bf16); the model
        # is 6% of a training epoch's FLOPs. The LSTM's state also keeps one dtype, from a burn-in or single steps.
        dtype = self.lstm.weight_ih_l0.dtype
        with torch.autocast(obs.device.type, enabled=False):
            frames = torch.cat((obs, next_obs), dim=2).to(dtype)  # (B, T, 2C, H, W)
            frames = frames.reshape(b * t, 2 * c, h, w)
            if act.is_floating_point():
                act = act.to(dtype)
            x = self.encoder(frames, self.act_emb(act.reshape(b * t, *act.shape[2:])))  # (B*T, C', H', W')
            x = x.reshape(b, t, -1)  # (B, T, D)
            if hx_cx is not None:
                hx_cx = (hx_cx[0].to(dtype), hx_cx[1].to(dtype))
            x, hx_cx = lstm_step(self.lstm, x, hx_cx) if t == 1 else self.lstm(x, hx_cx)  # (B, T, lstm_dim)
            logits = self.head(x)  # (B, T, 5)
        return logits[..., :NUM_REW_CLASSES], logits[..., NUM_REW_CLASSES:], hx_cx

    def transition_logits(
        self, batch: Batch
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Logits and target classes of the batch's unpadded transitions: logits_rew (N, 3), target_rew (N,) (the
        reward's sign, -1 / 0 / +1 -> 0 / 1 / 2), logits_end (N, 2), target_end (N,). The next frame of a
        terminal transition is the episode's final observation."""
        obs = batch.obs[:, :-1]  # (B, T-1, C, H, W)
        act = batch.act[:, :-1]  # (B, T-1) or (B, T-1, D)
        next_obs = batch.obs[:, 1:].clone()  # (B, T-1, C, H, W)
        rew = batch.rew[:, :-1]  # (B, T-1)
        end = batch.end[:, :-1].long()  # (B, T-1)
        mask = batch.mask_padding[:, :-1]  # (B, T-1)

        # After a termination the next frame of the segment is padding: use the episode's final observation.
        dead = end.bool().any(dim=1)  # (B,)
        for row in torch.nonzero(dead).flatten().tolist():
            info = batch.info[row] if row < len(batch.info) else {}
            final_obs = info.get("final_observation")
            if final_obs is None:
                raise ValueError(
                    f"segment {row} of the batch ends its episode, but the episode has no 'final_observation' to "
                    "learn the end from (datasets imported by an older diamond dataset import lack it): import the "
                    "recordings again with diamond dataset import --overwrite"
                )
            t_end = int(end[row].argmax().item())
            next_obs[row, t_end] = torch.as_tensor(final_obs, dtype=next_obs.dtype, device=next_obs.device)

        logits_rew, logits_end, _ = self(obs, act, next_obs)
        logits_rew = logits_rew[mask]  # (N, 3)
        logits_end = logits_end[mask]  # (N, 2)
        target_rew = rew[mask].sign().long() + 1  # (N,), classes of -1, 0, +1
        target_end = end[mask]  # (N,)
        return logits_rew, target_rew, logits_end, target_end

    def compute_loss(
        self, batch: Batch, rew_logit_shift: Optional[torch.Tensor] = None
    ) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of both heads on the unpadded transitions (`transition_logits`). `rew_logit_shift` (3,):
        added to the reward logits in the loss and its metrics (batches whose class frequencies differ from the
        data's by these log factors: the logits themselves then learn the data's)."""
        logits_rew, target_rew, logits_end, target_end = self.transition_logits(batch)
        if rew_logit_shift is not None:
            logits_rew = logits_rew.float() + rew_logit_shift.to(logits_rew.device, torch.float32)
        loss_rew = F.cross_entropy(logits_rew, target_rew)
        loss_end = F.cross_entropy(logits_end, target_end)
        loss = loss_rew + loss_end

        metrics = {"loss_rew": loss_rew.item(), "loss_end": loss_end.item(), "loss_total": loss.item()}
        with torch.no_grad():
            metrics.update(per_class_metrics(logits_rew, target_rew, REW_CLASS_NAMES, "rew"))
            metrics.update(per_class_metrics(logits_end, target_end, END_CLASS_NAMES, "end"))
        return loss, metrics
