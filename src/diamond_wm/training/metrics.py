"""Metrics sinks of a run: `metrics.jsonl` always, TensorBoard when installed, Weights & Biases when asked for.

This is the one place where a run writes metrics; with several processes only rank 0 would own one.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

from diamond_wm.config.trainer import WandbConfig

log = logging.getLogger(__name__)


def _scalar(value: Any) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


class MetricsLogger:
    """Writes one JSON line per `log` call and mirrors scalars to TensorBoard and W&B."""

    def __init__(
        self,
        metrics_file: Path,
        tensorboard_dir: Path | None = None,
        wandb_cfg: WandbConfig | None = None,
        run_config: dict | None = None,
        run_id: str | None = None,
    ) -> None:
        self.metrics_file = Path(metrics_file)
        self.metrics_file.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(self.metrics_file, "a", buffering=1)  # noqa: SIM115 - closed in close()
        self._tb = None
        if tensorboard_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                log.warning(
                    "tensorboard is not installed: metrics go to %s only (pip install tensorboard)",
                    metrics_file,
                )
            else:
                self._tb = SummaryWriter(log_dir=str(tensorboard_dir))
        self._wandb = None
        if wandb_cfg is not None and wandb_cfg.mode != "disabled":
            try:
                import wandb
            except ImportError as err:
                raise RuntimeError(
                    f"wandb.mode={wandb_cfg.mode} needs the wandb package: pip install 'diamond-wm[wandb]'"
                ) from err
            self._wandb = wandb.init(
                mode=wandb_cfg.mode,
                project=wandb_cfg.project,
                entity=wandb_cfg.entity,
                name=wandb_cfg.name,
                group=wandb_cfg.group,
                tags=wandb_cfg.tags,
                notes=wandb_cfg.notes,
                config=run_config,
                id=run_id,
                resume="allow",
                dir=str(self.metrics_file.parent),
            )

    def log(self, metrics: dict[str, Any], step: int) -> None:
        """Record `metrics` at `step` (the epoch)."""
        record = {"step": step, "time": time.time(), **metrics}
        self._file.write(json.dumps(record, default=_json_default) + "\n")
        scalars = {k: s for k, v in metrics.items() if (s := _scalar(v)) is not None}
        if self._tb is not None:
            for k, v in scalars.items():
                self._tb.add_scalar(k, v, step)
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def flush(self) -> None:
        self._file.flush()
        if self._tb is not None:
            self._tb.flush()

    def close(self) -> None:
        self.flush()
        self._file.close()
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "tolist"):
        return obj.tolist()
    return str(obj)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """The records of a `metrics.jsonl`, skipping a last line cut short by a crash."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records
