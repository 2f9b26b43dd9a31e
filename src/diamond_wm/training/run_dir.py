"""The folder of one training run: `outputs/YYYY-MM-DD/hh-mm-ss/`.

```
config/trainer.yaml          resolved configuration (with the seed actually used)
config/action_spec.json      the actions the agent was built for (diamond-wm runs; see `diamond_wm.config.actions`)
checkpoints/state.pt         full training state, written atomically at the end of every epoch
checkpoints/agent_versions/  agent_epoch_XXXXX.pt every `save_agent_every` epochs, `num_to_keep` kept
dataset/{train,test}/        the collected episodes
metrics.jsonl, tensorboard/  metrics; train.log: the log
scripts/resume.sh            `diamond train --resume` for this folder
FINISHED                     present once the run is over
```

Run folders of the published DIAMOND code have the same layout, with `.run_is_over` (empty) for `FINISHED`, an
unresolved Hydra config with `_target_` keys, bare agent state_dicts and a `state.pt` that only a full unpickler
reads: they can be played, evaluated and trained from (`initialization.path_to_ckpt`), not resumed.
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from diamond_wm.config.actions import ACTION_SPEC_FILENAME
from diamond_wm.runtime.atomic import atomic_write_text, current_umask

AGENT_VERSION_RE = re.compile(r"^agent_epoch_(\d{5,})\.pt$")
PUBLISHED_FINISHED_MARKER = ".run_is_over"  # the published code's end-of-run marker (an empty file)


@dataclass(frozen=True)
class RunDir:
    """Paths inside a run folder."""

    root: Path

    @property
    def config_file(self) -> Path:
        return self.root / "config" / "trainer.yaml"

    @property
    def action_spec_file(self) -> Path:
        """The run's action spec; absent from published run folders and older diamond-wm ones (discrete)."""
        return self.root / "config" / ACTION_SPEC_FILENAME

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

    @property
    def published_finished_marker(self) -> Path:
        return self.root / PUBLISHED_FINISHED_MARKER

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

    def newest_agent_version(self) -> Path | None:
        """The agent checkpoint of the latest epoch, or None."""
        versions = self.list_agent_versions()
        return versions[-1] if versions else None

    @property
    def is_finished(self) -> bool:
        """The run is over: our `FINISHED` or the published code's `.run_is_over`."""
        return self.finished_marker.exists() or self.published_finished_marker.exists()

    def published_run_marks(self) -> list[str]:
        """What shows that the published code made this run (empty for ours); reads nothing unsafely."""
        from diamond_wm.config.published import is_published_config

        marks = []
        if self.published_finished_marker.exists():
            marks.append(PUBLISHED_FINISHED_MARKER)
        try:
            if self.config_file.is_file() and is_published_config(self.config_file):
                marks.append("config/trainer.yaml with _target_ keys")
        except ValueError:
            pass  # an unreadable config is reported by whoever reads it
        if not marks and self.state_file.is_file() and not _is_our_state(self.state_file):
            marks.append("checkpoints/state.pt not in diamond-wm's format")
        return marks

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


def _is_our_state(path: Path) -> bool:
    """True when `path` is a diamond-wm training state. Read with `weights_only=True` (a published state.pt, which
    pickles numpy objects, is refused by the safe unpickler, never executed) and memory-mapped (tensors not read)."""
    import torch

    from diamond_wm.training.run_state import STATE_FORMAT

    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:
        return False
    return isinstance(state, dict) and state.get("format") == STATE_FORMAT
