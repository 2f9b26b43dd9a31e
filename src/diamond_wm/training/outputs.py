"""Everything a training run writes: the run folder and its configuration, the log file, metrics (jsonl,
TensorBoard, W&B), the run state, agent versions and the end-of-run marker, in one place.

In a multi-process run only rank 0 writes: the other processes get `RunOutputs(..., enabled=False)`, whose
methods do nothing, so the training loop needs no rank checks.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Optional

from omegaconf import OmegaConf

from diamond_wm.config.actions import ActionSpec, write_action_spec
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import save_agent
from diamond_wm.runtime.atomic import atomic_torch_save, atomic_write_text
from diamond_wm.runtime.logs import add_file_handler
from diamond_wm.training.metrics import MetricsLogger
from diamond_wm.training.run_dir import RunDir


class RunOutputs:
    """The files of the run in `run_dir` (see `RunDir` for the layout)."""

    def __init__(self, run_dir: RunDir, enabled: bool = True) -> None:
        self.run_dir = run_dir
        self.enabled = enabled
        self._log_handler: Optional[logging.Handler] = None
        self._metrics: Optional[MetricsLogger] = None

    def start_log(self) -> None:
        """Also write the log to `train.log` in the run folder (appending on resume)."""
        if self.enabled:
            self.run_dir.root.mkdir(parents=True, exist_ok=True)
            self._log_handler = add_file_handler(self.run_dir.log_file)

    def create(
        self, cfg: TrainerConfig, write_config: bool, action_spec: Optional[ActionSpec] = None
    ) -> None:
        """Make the folders and the resume script; write the configuration of a new run, and the action spec
        unless the run folder has it (older runs get it on resume)."""
        if not self.enabled:
            return
        self.run_dir.create()
        if write_config:
            atomic_write_text(self.run_dir.config_file, OmegaConf.to_yaml(OmegaConf.structured(cfg)))
        if action_spec is not None and not self.run_dir.action_spec_file.exists():
            write_action_spec(self.run_dir.action_spec_file, action_spec)

    def open_metrics(self, cfg: TrainerConfig) -> None:
        """Start the metrics writers (jsonl, TensorBoard, W&B as configured)."""
        if self.enabled:
            self._metrics = MetricsLogger(
                self.run_dir.metrics_file,
                self.run_dir.tensorboard,
                cfg.wandb,
                run_config=OmegaConf.to_container(OmegaConf.structured(cfg)),
                run_id=self.run_dir.root.name,
            )

    def log_metrics(self, metrics: dict[str, Any], step: int) -> None:
        if self._metrics is not None:
            self._metrics.log(metrics, step=step)

    def save_state(self, state: dict[str, Any]) -> None:
        """Write `checkpoints/state.pt` atomically."""
        if self.enabled:
            atomic_torch_save(state, self.run_dir.state_file)

    def save_agent_version(self, epoch: int, agent: Agent, num_to_keep: Optional[int]) -> None:
        """Write `agent_epoch_XXXXX.pt` (published layout) and delete the oldest beyond `num_to_keep`."""
        if self.enabled:
            save_agent(self.run_dir.agent_version_path(epoch), agent)
            self.run_dir.prune_agent_versions(num_to_keep)

    def has_agent_version(self, epoch: int) -> bool:
        return self.run_dir.agent_version_path(epoch).exists()

    def finish(self, metrics: dict[str, Any]) -> None:
        """Mark the run as over: `FINISHED` holds the final metrics."""
        if self.enabled:
            atomic_write_text(self.run_dir.finished_marker, json.dumps(metrics, indent=2, default=float))

    def final_metrics(self) -> dict[str, Any]:
        """The final metrics of a finished run (empty for a run marked over by the published code only)."""
        marker = self.run_dir.finished_marker
        return json.loads(marker.read_text() or "{}") if marker.is_file() else {}

    def close(self) -> None:
        """Flush the metrics and detach the log file."""
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if self._log_handler is not None:
            logging.getLogger().removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
