"""The folder of one training run: `outputs/YYYY-MM-DD/hh-mm-ss/`.

```
config/trainer.yaml          resolved configuration (with the seed actually used)
checkpoints/state.pt         full training state, written atomically at the end of every epoch
checkpoints/agent_versions/  agent_epoch_XXXXX.pt every `save_agent_every` epochs, `num_to_keep` kept
dataset/{train,test}/        the collected episodes
metrics.jsonl, tensorboard/  metrics; train.log: the log
scripts/resume.sh            `diamond train --resume` for this folder
FINISHED                     present once the run is over
```
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from diamond_wm.runtime.atomic import atomic_write_text, current_umask

AGENT_VERSION_RE = re.compile(r"^agent_epoch_(\d{5,})\.pt$")


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run folder."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "trainer.yaml"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def state_file(self) -> Path:
        return self.checkpoints / "state.pt"

    @property
    def agent_versions(self) -> Path:
        return self.checkpoints / "agent_versions"

    @property
    def train_dataset(self) -> Path:
        return self.root / "dataset" / "train"

    @property
    def test_dataset(self) -> Path:
        return self.root / "dataset" / "test"

    @property
    def metrics_file(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def log_file(self) -> Path:
        return self.root / "train.log"

    @property
    def finished_marker(self) -> Path:
        return self.root / "FINISHED"

    @property
    def resume_script(self) -> Path:
        return self.root / "scripts" / "resume.sh"

    def agent_version_path(self, epoch: int) -> Path:
        return self.agent_versions / f"agent_epoch_{epoch:05d}.pt"

    def list_agent_versions(self) -> list[Path]:
        """Agent checkpoints of this run, oldest epoch first."""
        if not self.agent_versions.is_dir():
            return []
        found = [
            (int(m.group(1)), p)
            for p in self.agent_versions.iterdir()
            if (m := AGENT_VERSION_RE.match(p.name))
        ]
        return [p for _, p in sorted(found)]

    @property
    def is_finished(self) -> bool:
        return self.finished_marker.exists()

    def create(self) -> None:
        """Make the folders and the resume script."""
        for d in (self.config_file.parent, self.agent_versions, self.train_dataset, self.test_dataset):
            d.mkdir(parents=True, exist_ok=True)
        self.resume_script.parent.mkdir(parents=True, exist_ok=True)
        python = shlex.quote(sys.executable)
        script = (
            "#!/usr/bin/env bash\n"
            "# Continue this run from its last checkpoint (same as `diamond train --resume RUN_DIR`).\n"
            "set -euo pipefail\n"
            'run_dir="$(cd "$(dirname "$0")/.." && pwd)"\n'
            f'exec {python} -m diamond_wm.cli.main train --resume "$run_dir" "$@"\n'
        )
        atomic_write_text(self.resume_script, script)
        self.resume_script.chmod(0o777 & ~current_umask())  # executable by whoever the umask lets read it

    def prune_agent_versions(self, num_to_keep: int | None) -> list[Path]:
        """Delete the oldest agent versions beyond `num_to_keep`; return what was deleted."""
        versions = self.list_agent_versions()
        if num_to_keep is None or len(versions) <= num_to_keep:
            return []
        doomed = versions[: len(versions) - num_to_keep]
        for p in doomed:
            p.unlink(missing_ok=True)
        return doomed
