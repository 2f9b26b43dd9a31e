"""Optimizers of the three components: AdamW with weight-decay groups, linear LR warm-up, gradient clipping."""

from __future__ import annotations

from torch import nn
from torch.optim import AdamW
from torch.optim.lr_scheduler import LambdaLR

from diamond_wm.config.trainer import OptimizerConfig
from diamond_wm.training.schedule import warmup_multiplier

# Weight decay applies to the weights of these layers only; biases, norms and embeddings are not decayed.
_DECAYED_LAYERS = (
    nn.Linear,
    nn.Conv1d,
    nn.Conv2d,
    nn.ConvTranspose2d,
    nn.LSTM,
    nn.LSTMCell,
    nn.GRU,
    nn.GRUCell,
)


def weight_decay_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Two parameter groups: decayed layer weights, and everything else with weight decay 0."""
    decay, no_decay = [], []
    for mod in module.modules():
        for name, p in mod.named_parameters(recurse=False):
            if not p.requires_grad:
                continue
            if isinstance(mod, _DECAYED_LAYERS) and name.startswith("weight"):
                decay.append(p)
            else:
                no_decay.append(p)
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def configure_optimizer(
    module: nn.Module, cfg: OptimizerConfig, lr_warmup_steps: int
) -> tuple[AdamW, LambdaLR]:
    """AdamW over `weight_decay_groups` and the published warm-up: update k runs at LR x min(1, k / warm-up),
    so update 0 runs at LR 0 (`diamond_wm.training.schedule.warmup_multiplier`)."""
    opt = AdamW(weight_decay_groups(module, cfg.weight_decay), lr=cfg.lr, eps=cfg.eps)
    sched = LambdaLR(opt, lambda update: warmup_multiplier(update, lr_warmup_steps))
    return opt, sched
