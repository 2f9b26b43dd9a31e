"""Hydra structured configs: registration, composition from the packaged presets, clean error messages.

The presets live in the package (`diamond_wm/config/presets`), so composition works from any directory.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import re
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from diamond_wm.config.errors import ConfigError, UnknownKeyError, flat_keys
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.config.validation import validate_trainer_config

PRESETS_MODULE = "diamond_wm.config.presets"
PRESETS_PATH = "pkg://" + PRESETS_MODULE
TRAINER_CONFIG_NAME = "trainer"


def register_configs() -> None:
    """Register the dataclass schema that the packaged `trainer.yaml` extends. Idempotent."""
    ConfigStore.instance().store(name="trainer_schema", node=TrainerConfig)


@functools.lru_cache(maxsize=1)
def _known_keys() -> tuple[str, ...]:
    return tuple(flat_keys(OmegaConf.structured(_with_optional_parts(TrainerConfig()))))


def _with_optional_parts(obj: Any) -> Any:
    """`obj` with every optional section that defaults to None (e.g. `agent.upsampler`) filled with its type's
    defaults, recursively: the keys a config may hold."""
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if value is None:
            kinds = [a for a in typing.get_args(hints[f.name]) if dataclasses.is_dataclass(a)]
            value = kinds[0]() if kinds else None
        if dataclasses.is_dataclass(value):
            setattr(obj, f.name, _with_optional_parts(value))
    return obj


def explain_error(err: BaseException) -> ValueError:
    """Turn a Hydra/OmegaConf composition error into a one-line `ValueError` naming key, value and expectation."""
    chain: list[BaseException] = []
    e: BaseException | None = err
    while e is not None and e not in chain:
        chain.append(e)
        e = e.__cause__ or e.__context__
    for e in chain:
        if isinstance(e, (ConfigError, UnknownKeyError)):
            return e
    for e in chain:
        if not isinstance(e, OmegaConfBaseException):
            continue
        key = getattr(e, "full_key", None) or ""
        msg = str(getattr(e, "msg", None) or e).splitlines()[0]
        if "not in" in msg or "Key '" in msg and "not" in msg or "ConfigAttributeError" in type(e).__name__:
            return UnknownKeyError(key, list(_known_keys()))
        if key:
            expected = _describe_expected(msg)
            return ValueError(f"invalid config: {key}: {expected}")
    missing_option = _MISSING_OPTION.search(str(err))
    if missing_option is not None:  # Hydra's text lists the group's options on the lines after
        group, name = missing_option.groups()
        options = re.search(rf"Available options in '{re.escape(group)}':\n((?:\t.*\n?)*)", str(err))
        names = options.group(1).split() if options else []
        return ValueError(f"invalid config: {group}={name}: expected one of {', '.join(names)}")
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    if "Could not override" in str(err) or "Could not append" in str(err):
        key = first.split("'")[1] if "'" in first else first
        return UnknownKeyError(key, list(_known_keys()))
    return ValueError(f"invalid config: {first}")


_MISSING_OPTION = re.compile(r"Could not find '([\w/]+)/([^'/]+)'")


def _describe_expected(msg: str) -> str:
    # OmegaConf: "Value 'abc' of type 'str' could not be converted to Integer"
    for word, what in (("Integer", "an integer"), ("Float", "a number"), ("Boolean", "true or false")):
        if msg.endswith(f"converted to {word}"):
            return f"{msg.split(' of type')[0].replace('Value ', 'value ')} is not {what}"
    return msg


def compose_trainer_config(
    overrides: Sequence[str] = (), config_name: str = TRAINER_CONFIG_NAME, validate: bool = True
) -> DictConfig:
    """Compose the packaged training config with Hydra overrides; raise a one-line `ValueError` on bad input."""
    register_configs()
    GlobalHydra.instance().clear()
    try:
        with initialize_config_module(config_module=PRESETS_MODULE, version_base="1.3"):
            cfg = compose(config_name=config_name, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        raise explain_error(err) from err
    finally:
        GlobalHydra.instance().clear()
    _reject_unknown_keys(cfg)
    if validate:
        to_trainer_config(cfg)
    return cfg


def _reject_unknown_keys(cfg: DictConfig) -> None:
    # `+key=value` appends to a struct config without complaint: every key must still be in the schema.
    known = set(_known_keys())
    for key in flat_keys(cfg):
        if key not in known:
            raise UnknownKeyError(key, sorted(known))


_PLAIN_VALUE_KEY = re.compile(r"^[A-Za-z_]\w*(\.\w+)+$")  # `common.seed`: a value, never a config group


class SweepComposer:
    """The configurations of a sweep's jobs, as `compose_trainer_config` gives them, fast.

    Jobs that differ only in the values of plain keys (`common.seed=0,1,2`, not config groups like `agent=...`)
    share one Hydra composition of their other overrides (or its error); each job is a copy of it with its values
    applied the way Hydra applies value overrides after composing."""

    def __init__(self, config_name: str = TRAINER_CONFIG_NAME) -> None:
        self.config_name = config_name
        self._composed: dict[tuple[str, ...], DictConfig | ValueError] = {}

    def compose(self, overrides: Sequence[str], value_keys: Sequence[str]) -> DictConfig:
        """The composed (not yet validated) configuration of one job; `value_keys`: the keys its sweep varies."""
        from hydra._internal.config_loader_impl import ConfigLoaderImpl
        from hydra.core.override_parser.overrides_parser import OverridesParser

        plain = {k for k in value_keys if _PLAIN_VALUE_KEY.match(k)}
        values = [o for o in overrides if o.split("=", 1)[0] in plain]
        rest = tuple(o for o in overrides if o not in values)
        if rest not in self._composed:
            try:
                self._composed[rest] = compose_trainer_config(
                    rest, config_name=self.config_name, validate=False
                )
            except ValueError as err:  # the same for every job that shares these overrides
                self._composed[rest] = err
        base = self._composed[rest]
        if isinstance(base, ValueError):
            raise base
        cfg = copy.deepcopy(base)
        try:
            ConfigLoaderImpl._apply_overrides_to_config(OverridesParser.create().parse_overrides(values), cfg)
        except (HydraException, OmegaConfBaseException) as err:
            raise explain_error(err) from err
        return cfg


def to_trainer_config(cfg: Any) -> TrainerConfig:
    """The typed `TrainerConfig` of a composed DictConfig (interpolations resolved), validated."""
    try:
        obj = OmegaConf.to_object(cfg) if isinstance(cfg, DictConfig) else cfg
    except OmegaConfBaseException as err:
        raise explain_error(err) from err
    if not isinstance(obj, TrainerConfig):
        raise TypeError(f"expected a TrainerConfig, got {type(obj).__name__}")
    validate_trainer_config(obj)
    return obj


def load_run_config(path: str | Path) -> TrainerConfig:
    """The validated `TrainerConfig` saved in a run folder (`config/trainer.yaml`)."""
    try:
        cfg = OmegaConf.merge(OmegaConf.structured(TrainerConfig), OmegaConf.load(path))
    except OmegaConfBaseException as err:
        raise explain_error(err) from err
    return to_trainer_config(cfg)
