"""The configuration of a training run of the published DIAMOND code, read as a `TrainerConfig` (values only).

A published run's `config/trainer.yaml` is Hydra's unresolved composition (`.hydra/config.yaml`): the published
`config/trainer.yaml` with its `env:` and `agent:` sections composed in. It differs from ours in three ways:

- `_target_` keys name the reference's classes (`envs.WorldModelEnvConfig`, `models.diffusion.DenoiserConfig`...):
  dropped here, except the ddpm branch's denoiser (`models.diffusion.DDPMDenoiserConfig`), read as ours with
  `parameterisation: ddpm` (`read_ddpm_denoisers`).
- Two values come from an `eval` resolver, which we never register nor imitate (no Python `eval`): the text of the
  expression is compared with the one the published code ships, and the value is the one diamond-wm computes
  (`s_tmax`: infinity; `rew_end_model.training.seq_length`: `derived.rew_end_seq_length`, horizon + conditioning
  frames). Any other `eval` value is dropped (default kept) with a warning naming it.
- Keys diamond-wm does not have (`common.device` of older versions...) are ignored with one log line naming them.

A run of the published ddpm branch also names three keys its own way (`ddpm_branch_keys`):
`world_model_env.ddpm_sampler` (our `diffusion_sampler`: its `num_steps_denoising`),
`collection.path_to_static_dataset` (our `static_dataset.path`), and trains its denoiser on segments without
autoregressive step (`denoiser.training.num_autoregressive_steps: 0`, a key it does not have).

The other interpolations (`${denoiser.training.sample_weights}`, `${env.train.size}`, `${..train.id}`) are resolved
as Hydra would. `common.devices` is not kept: it named the machine of the run, not this one.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from diamond_wm.config.agent import DDPM_NUM_TRAIN_TIMESTEPS
from diamond_wm.config.trainer import TrainerConfig

log = logging.getLogger(__name__)

TARGET_KEY = "_target_"
_EVAL_RE = re.compile(r"^\$\{eval:'(.*)'\}$", re.DOTALL)
_NOT_READ = (
    "defaults",
    "hydra",
)  # not in a saved run config, but harmless if a user points us at a source YAML

# Keys whose published value is an `eval` expression: the expression it ships, and what diamond-wm uses instead.
INF_EXPRESSION = 'float("inf")'
SEQ_LENGTH_EXPRESSION = "${world_model_env.horizon} + ${agent.denoiser.inner_model.num_steps_conditioning}"
EVAL_KEYS = {
    "world_model_env.diffusion_sampler.s_tmax": INF_EXPRESSION,
    "rew_end_model.training.seq_length": SEQ_LENGTH_EXPRESSION,
}


DDPM_DENOISER_CLASS = "DDPMDenoiserConfig"  # the ddpm branch's classes (`models.diffusion.*`)
DDPM_SAMPLER_CLASS = "DDPMSamplerConfig"

_DROP = object()  # marks a value that is removed from the tree


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def read_yaml_raw(path: str | Path) -> Any:
    """The YAML file as plain containers, interpolations left as text."""
    try:
        return OmegaConf.to_container(OmegaConf.load(path), resolve=False)
    except Exception as e:  # OSError, yaml.YAMLError, OmegaConf errors: all one line naming the file
        raise ValueError(f"cannot read {path}: {_one_line(e)}") from e


def has_published_marks(node: Any) -> bool:
    """True when a config tree has `_target_` keys or `eval` interpolations (the published code's YAML)."""
    if isinstance(node, dict):
        return any(str(k) == TARGET_KEY or has_published_marks(v) for k, v in node.items())
    if isinstance(node, list):
        return any(has_published_marks(v) for v in node)
    return isinstance(node, str) and "${eval:" in node


def is_published_config(path: str | Path) -> bool:
    """True when the YAML file at `path` was written by the published code (see `has_published_marks`)."""
    return has_published_marks(read_yaml_raw(path))


def strip_targets(node: Any, where: str = "", targets: dict[str, str] | None = None) -> Any:
    """A copy without the `_target_` keys; `targets` (when given) collects them by dotted path."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            key = f"{where}.{k}" if where else str(k)
            if str(k) == TARGET_KEY:
                if targets is not None:
                    targets[where] = str(v)
                continue
            out[k] = strip_targets(v, key, targets)
        return out
    if isinstance(node, list):
        return [strip_targets(v, where, targets) for v in node]
    return node


def read_ddpm_denoisers(data: Any, targets: dict[str, str], source: str | Path, root: str = "") -> bool:
    """Read the ddpm branch's denoisers as ours, in place: under each `_target_` (in `targets`, by dotted path from
    `root`, the path of `data`) naming its `DDPMDenoiserConfig`, `parameterisation: ddpm` (the same U-Net,
    predicting the noise) instead of its `num_train_timesteps`, which must be diamond-wm's. Returns whether there
    was one. ValueError, in one line, for another DDPM class or another number of training timesteps."""
    found = False
    for where, target in targets.items():
        name = target.rsplit(".", 1)[-1]
        if "ddpm" not in target.lower() or name == DDPM_SAMPLER_CLASS:
            continue
        if name != DDPM_DENOISER_CLASS:
            raise ValueError(
                f"{source}: {where or 'agent'} is a {target}: of the DDPM classes, diamond-wm reads "
                f"{DDPM_DENOISER_CLASS} (a denoiser) and {DDPM_SAMPLER_CLASS}"
            )
        node = data
        for key in where[len(root) :].lstrip(".").split(".") if where != root else []:
            node = node.get(key) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        steps = node.pop("num_train_timesteps", DDPM_NUM_TRAIN_TIMESTEPS)
        if str(steps) != str(DDPM_NUM_TRAIN_TIMESTEPS):
            raise ValueError(
                f"{source}: {where}.num_train_timesteps={steps}: diamond-wm's DDPM denoiser has "
                f"{DDPM_NUM_TRAIN_TIMESTEPS} training timesteps (the ddpm branch's value)"
            )
        node["parameterisation"] = "ddpm"
        found = True
    return found


def ddpm_branch_keys(data: dict[str, Any]) -> None:
    """Rename, in place, the keys a run config of the published ddpm branch names its own way (see the module
    docstring); a config without them is left as it is."""
    wme = data.get("world_model_env")
    if isinstance(wme, dict) and isinstance(wme.get("ddpm_sampler"), dict):
        sampler = wme.pop("ddpm_sampler")
        if "num_steps_denoising" in sampler:
            wme.setdefault("diffusion_sampler", {})["num_steps_denoising"] = sampler["num_steps_denoising"]
    collection = data.get("collection")
    if isinstance(collection, dict) and "path_to_static_dataset" in collection:
        path = collection.pop("path_to_static_dataset")
        if path is not None:
            data.setdefault("static_dataset", {})["path"] = path
    training = data.get("denoiser", {}).get("training") if isinstance(data.get("denoiser"), dict) else None
    if isinstance(training, dict):
        training.setdefault("num_autoregressive_steps", 0)


def _replace_evals(node: Any, where: str, source: str | Path) -> Any:
    """Replace the `eval` interpolations (see the module docstring); other values are returned unchanged."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            key = f"{where}.{k}" if where else str(k)
            value = _replace_evals(v, key, source)
            if value is not _DROP:
                out[k] = value
        return out
    if isinstance(node, list):
        return [_replace_evals(v, where, source) for v in node]
    if not isinstance(node, str) or "${eval:" not in node:
        return node
    m = _EVAL_RE.match(node.strip())
    expression = m.group(1) if m else node
    expected = EVAL_KEYS.get(where)
    if expected is None:
        log.warning(
            "%s: %s=%s: an `eval` value diamond-wm does not compute; its default is used", source, where, node
        )
        return _DROP
    if expression.replace(" ", "") != expected.replace(" ", ""):
        log.warning(
            "%s: %s is %r in this file; diamond-wm uses %r (computed in code)",
            source,
            where,
            expression,
            expected,
        )
    if where.endswith("s_tmax"):
        return float("inf")
    log.info("%s: %s is computed in code (%s)", source, where, expected)
    return _DROP  # rew_end_model.training.seq_length: derived.rew_end_seq_length


def _known_only(data: Any, schema: Any, where: str, ignored: list[str]) -> Any:
    """The keys of `data` that the schema (a structured DictConfig) has, recursively; the others go to `ignored`."""
    if not isinstance(data, dict) or not isinstance(schema, DictConfig):
        return data
    out = {}
    for k, v in data.items():
        key = f"{where}.{k}" if where else str(k)
        if k not in schema:
            ignored.append(key)
            continue
        out[k] = _known_only(v, schema._get_node(k), key, ignored)
    return out


def published_trainer_dict(path: str | Path) -> dict[str, Any]:
    """The published run config as plain, resolved values in diamond-wm's tree (unknown keys dropped, logged)."""
    raw = read_yaml_raw(path)
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping of config sections, found {type(raw).__name__}")
    raw = {k: v for k, v in raw.items() if k not in _NOT_READ}
    targets: dict[str, str] = {}
    data = strip_targets(raw, targets=targets)
    if read_ddpm_denoisers(data, {k: v for k, v in targets.items() if k.startswith("agent")}, path):
        ddpm_branch_keys(data)
    data = _replace_evals(data, "", path)
    try:
        data = OmegaConf.to_container(OmegaConf.create(data), resolve=True)
    except OmegaConfBaseException as e:
        raise ValueError(f"cannot resolve {path}: {_one_line(e)}") from e
    ignored: list[str] = []
    data = _known_only(data, OmegaConf.structured(TrainerConfig), "", ignored)
    if ignored:
        log.info("%s: keys not used by diamond-wm (ignored): %s", path, ", ".join(ignored))
    common = data.get("common")
    if isinstance(common, dict):
        if common.get("devices") is not None:
            log.info("%s: common.devices=%r was the run's machine; not used here", path, common["devices"])
        common["devices"] = None
        common["resume"] = False
    return data


def read_published_trainer_config(path: str | Path) -> TrainerConfig:
    """The validated `TrainerConfig` of a published run's `config/trainer.yaml` (see the module docstring)."""
    from diamond_wm.config.compose import explain_error, to_trainer_config

    data = published_trainer_dict(path)
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(TrainerConfig), data)
    except OmegaConfBaseException as e:
        raise ValueError(f"{path}: {explain_error(e)}") from e
    try:
        return to_trainer_config(cfg)
    except ValueError as e:
        raise ValueError(f"{path}: {_one_line(e)}") from e
