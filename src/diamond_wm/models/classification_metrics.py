"""Per-class precision / recall / F1 of a classifier, for logging the reward and termination heads."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    idx = target.reshape(-1).long() * num_classes + pred.reshape(-1).long()  # (N,)
    return torch.bincount(idx, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class_metrics(
    logits: torch.Tensor, target: torch.Tensor, class_names: Sequence[str], prefix: str
) -> dict[str, float]:
    """`{prefix}_{precision,recall,f1}_{class}` from logits (N, K) and targets (N,); 0 where undefined."""
    k = len(class_names)
    if logits.ndim != 2 or logits.shape[1] != k:
        raise ValueError(f"logits must be (N, {k}), got shape {tuple(logits.shape)}")
    cm = confusion_matrix(logits.argmax(dim=-1), target, k).double()  # (K, K)
    tp = cm.diag()  # (K,)
    predicted = cm.sum(dim=0)  # (K,)
    actual = cm.sum(dim=1)  # (K,)
    precision = torch.where(predicted > 0, tp / predicted.clamp(min=1), torch.zeros_like(tp))
    recall = torch.where(actual > 0, tp / actual.clamp(min=1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp(min=1e-12), torch.zeros_like(tp))
    metrics: dict[str, float] = {}
    for i, name in enumerate(class_names):
        metrics[f"{prefix}_precision_{name}"] = precision[i].item()
        metrics[f"{prefix}_recall_{name}"] = recall[i].item()
        metrics[f"{prefix}_f1_{name}"] = f1[i].item()
        metrics[f"{prefix}_support_{name}"] = actual[i].item()
    return metrics
