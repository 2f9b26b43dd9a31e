"""Agent checkpoints in the published layout, loaded with weights_only=True.

`save_agent` writes the published layout (that of the official `agent_epoch_XXXXX.pt` and per-game Atari models):
the bare state_dict with keys prefixed `denoiser.`, `rew_end_model.`, `actor_critic.`, which the published
`Agent.load` reads as is. The networks' sizes are not in the file: a run's live in its `config/trainer.yaml`
beside `checkpoints/`; a loose copy needs them given (`diamond play/eval --agent-config`, `-o agent...`) or found
among the packaged presets.

Older diamond-wm files (a dict {"format": "diamond-wm-agent", "version": 1, "config": <AgentConfig as a plain
dict>, "num_actions": int, "state_dict": ...}) are still read, config included.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.config.agent import AgentConfig
from diamond_wm.models.agent import (
    AGENT_PARTS,
    Agent,
    agent_config_from_dict,
)
from diamond_wm.runtime.atomic import atomic_torch_save
from diamond_wm.runtime.safe_load import UnreadableFileError, UnsafePickleError, safe_torch_load

logger = logging.getLogger(__name__)

FORMAT_NAME = "diamond-wm-agent"
FORMAT_VERSION = 1

# Keys whose first dimension is the number of actions, most reliable first.
NUM_ACTIONS_KEYS = (
    "actor_critic.actor_linear.weight",
    "actor_critic.actor_linear.bias",
    "rew_end_model.act_emb.weight",
    "denoiser.inner_model.act_emb.0.weight",
    "denoiser.noise_model.act_emb.0.weight",  # DDPM denoiser
)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used."""


class UnsafeCheckpointError(CheckpointError):
    """A file that would need arbitrary unpickling (custom classes) to load: refused."""


class CheckpointMismatchError(CheckpointError):
    """A state_dict whose keys or shapes differ from the model's; lists every difference."""

    def __init__(
        self,
        missing: list[str],
        unexpected: list[str],
        shape_mismatches: list[tuple[str, tuple[int, ...], tuple[int, ...]]],
        source: str = "state_dict",
    ) -> None:
        self.missing, self.unexpected, self.shape_mismatches = missing, unexpected, shape_mismatches
        lines = [f"{source} does not match the model:"]
        if missing:
            lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
        if unexpected:
            lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
        for key, got, want in shape_mismatches:
            lines.append(f"  shape mismatch for {key}: checkpoint {list(got)}, model {list(want)}")
        super().__init__("\n".join(lines))
        self.source = source

    def one_line(self) -> str:
        """The differences counted, with the first of each kind: for command-line errors."""
        parts = []
        if self.missing:
            parts.append(f"{len(self.missing)} missing keys (first: {self.missing[0]})")
        if self.unexpected:
            parts.append(f"{len(self.unexpected)} unexpected keys (first: {self.unexpected[0]})")
        if self.shape_mismatches:
            key, got, want = self.shape_mismatches[0]
            parts.append(
                f"{len(self.shape_mismatches)} shape mismatches (first: {key}: checkpoint {list(got)}, "
                f"model {list(want)})"
            )
        return (
            f"{self.source} does not fit the configured networks: {'; '.join(parts)}. "
            "Was it trained with other agent settings? Use the same agent=... / agent.* overrides"
        )


def agent_state_dict(agent: Agent) -> dict[str, torch.Tensor]:
    """The agent's weights as the published layout holds them: one flat dict, CPU tensors, published prefixes.

    `torch.compile` (in place, `training.compile`) keeps the keys, so compiled agents save the same file."""
    return {k: v.detach().cpu().clone() for k, v in agent.state_dict().items()}


def save_agent(path: str | os.PathLike, agent: Agent) -> Path:
    """Write the agent as a bare state_dict (published layout), atomically (temp file, then os.replace)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_torch_save(agent_state_dict(agent), path)
    logger.debug("saved agent to %s", path)
    return path


def _safe_load(path: Path) -> Any:
    """torch.load(weights_only=True); refusals and damaged files become one-line CheckpointErrors naming `path`."""
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        return safe_torch_load(path)
    except UnsafePickleError as e:
        raise UnsafeCheckpointError(str(e)) from None
    except UnreadableFileError as e:
        raise CheckpointError(f"cannot read {path} as a torch checkpoint: {e.reason}") from None
    except OSError as e:
        raise CheckpointError(f"cannot read {path}: {e.strerror or e}") from e


def infer_num_actions(state_dict: Mapping[str, torch.Tensor]) -> int:
    """Number of actions of a published-layout state_dict (first dimension of the actor head and embeddings)."""
    for key in NUM_ACTIONS_KEYS:
        t = state_dict.get(key)
        if isinstance(t, torch.Tensor) and t.ndim >= 1:
            return int(t.shape[0])
    raise CheckpointError(f"cannot infer num_actions: the state_dict has none of {list(NUM_ACTIONS_KEYS)}")


def load_agent_state(
    path: str | os.PathLike,
) -> tuple[dict[str, torch.Tensor], Optional[AgentConfig], int]:
    """(state_dict, config or None for the published layout, num_actions) of a checkpoint file."""
    path = Path(path)
    obj = _safe_load(path)
    if not isinstance(obj, dict):
        raise CheckpointError(f"{path}: expected a dict, got {type(obj).__name__}")

    if "format" in obj:
        if obj["format"] != FORMAT_NAME:
            raise CheckpointError(
                f"{path}: unknown checkpoint format {obj['format']!r} (expected {FORMAT_NAME!r})"
            )
        version = obj.get("version")
        if version != FORMAT_VERSION:
            raise CheckpointError(
                f"{path}: unsupported {FORMAT_NAME} version {version!r} (this code reads {FORMAT_VERSION})"
            )
        missing = [k for k in ("config", "num_actions", "state_dict") if k not in obj]
        if missing:
            raise CheckpointError(f"{path}: {FORMAT_NAME} checkpoint lacks {missing}")
        try:
            cfg = agent_config_from_dict(obj["config"])
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: bad agent config: {e}") from e
        state_dict = obj["state_dict"]
        if not isinstance(state_dict, dict) or not all(
            isinstance(v, torch.Tensor) for v in state_dict.values()
        ):
            raise CheckpointError(f"{path}: 'state_dict' is not a mapping of tensors")
        return dict(state_dict), cfg, int(obj["num_actions"])

    bad = [k for k, v in obj.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise CheckpointError(
            f"{path}: neither a {FORMAT_NAME} checkpoint nor a bare state_dict (non-tensor entries: {bad[:5]})"
        )
    return obj, None, infer_num_actions(obj)


def check_state_dict(
    model: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str = "state_dict"
) -> None:
    """Raise CheckpointMismatchError naming every missing/unexpected key and shape difference."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    shapes = [
        (k, tuple(state_dict[k].shape), tuple(v.shape))
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(missing, unexpected, shapes, source)


def load_into(
    agent: Agent,
    state_dict: Mapping[str, torch.Tensor],
    parts: Optional[Iterable[str]] = None,
    assign: bool = False,
) -> None:
    """Load the named parts (default: every part the agent has) of a full-agent state_dict, strictly; all
    differences are reported at once. `assign=True` makes the state_dict's tensors the agent's (for an agent built
    on the meta device: see `build_loaded`).

    Keys of the other parts are ignored (a world-model-only agent loads from a full checkpoint); keys under no
    known part are reported as unexpected. Naming a part the agent does not have is a ValueError.
    """
    parts = agent.parts if parts is None else tuple(parts)
    unknown_parts = [p for p in parts if p not in AGENT_PARTS]
    if unknown_parts:
        raise ValueError(f"unknown agent parts {unknown_parts} (known: {list(AGENT_PARTS)})")
    absent = [p for p in parts if getattr(agent, p) is None]
    if absent:
        raise ValueError(f"the agent has no {', '.join(absent)} (its config sets agent.{absent[0]}=null)")
    missing: list[str] = []
    unexpected = [k for k in state_dict if k.split(".", 1)[0] not in AGENT_PARTS]
    shapes: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    sub_dicts = {}
    for part in parts:
        prefix = f"{part}."
        sub = {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}
        try:
            check_state_dict(getattr(agent, part), sub)
        except CheckpointMismatchError as e:
            missing += [prefix + k for k in e.missing]
            unexpected += [prefix + k for k in e.unexpected]
            shapes += [(prefix + k, got, want) for k, got, want in e.shape_mismatches]
        sub_dicts[part] = sub
    if missing or unexpected or shapes:
        raise CheckpointMismatchError(missing, unexpected, shapes)
    for part, sub in sub_dicts.items():
        getattr(agent, part).load_state_dict(sub, strict=True, assign=assign)


def build_loaded(cfg: AgentConfig, actions: Any, state_dict: Mapping[str, torch.Tensor]) -> Agent:
    """`Agent(cfg, actions)` with `state_dict` loaded strictly (`load_into`), without first drawing random weights
    that the checkpoint replaces: the networks are built on the meta device and take the state_dict's tensors
    (a paper-size CS:GO world model starts in a third of the time). Falls back to an ordinary build when that
    would not give the same agent: a tensor of the checkpoint in another dtype than the network's, or a tensor
    the state_dict does not hold (a non-persistent buffer, a tensor attribute such as a DDPM noise schedule)."""
    with torch.device("meta"):
        agent = Agent(cfg, actions)
    own = dict(agent.state_dict())
    same_dtypes = all(k not in own or v.dtype == own[k].dtype for k, v in state_dict.items())
    if same_dtypes:
        load_into(agent, state_dict, assign=True)
        if not _holds_meta_tensors(agent):
            return agent
    agent = Agent(cfg, actions)
    load_into(agent, state_dict)
    return agent


def _holds_meta_tensors(agent: Agent) -> bool:
    """Whether a parameter, buffer or plain tensor attribute of any module of `agent` is still on the meta device."""
    for module in agent.modules():
        tensors = [*module.parameters(recurse=False), *module.buffers(recurse=False)]
        for v in vars(module).values():  # plain tensor attributes, and those of plain objects (a schedule)
            held = vars(v).values() if hasattr(v, "__dict__") and not isinstance(v, torch.nn.Module) else [v]
            tensors += [t for t in held if isinstance(t, torch.Tensor)]
        if any(t.is_meta for t in tensors):
            return True
    return False


def load_agent(
    path: str | os.PathLike, cfg: Optional[AgentConfig] = None, device: torch.device | str = "cpu"
) -> Agent:
    """Build an Agent from a checkpoint file: its own config, else `cfg`, else the paper's defaults."""
    state_dict, saved_cfg, num_actions = load_agent_state(path)
    try:
        agent = build_loaded(saved_cfg or cfg or AgentConfig(), num_actions, state_dict)
    except CheckpointMismatchError as e:
        raise CheckpointMismatchError(e.missing, e.unexpected, e.shape_mismatches, source=str(path)) from None
    return agent.to(device)
