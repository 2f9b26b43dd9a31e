"""The published models on the Hugging Face Hub (`eloialonso/diamond`): the Atari 100k agents with their configs,
and the CS:GO world model with its spawn points.

Layout of the Hub repository (facts of the published release):

```
atari_100k/models/<Game>.pt             bare agent state_dict (prefixes denoiser., rew_end_model., actor_critic.)
atari_100k/config/agent/default.yaml    the agent's networks (the paper's sizes)
atari_100k/config/env/atari.yaml        the Atari environments
csgo/model/csgo.pt                      bare state_dict of the CS:GO world model (prefixes denoiser., upsampler.)
csgo/config/agent/csgo.yaml             its networks
csgo/spawn/<n>/{low_res,full_res,act,next_act}.npy   where imagined episodes start (`envs.csgo.spawn`)
```

The YAML files name the reference's classes in `_target_` keys: only their values are read here. Their
interpolations (`${env.train.size}`, `${agent.denoiser.inner_model.img_channels}`, `${..train.id}`) are resolved
against a root holding both files, as the reference's Hydra composition does.

Downloads go through `huggingface_hub.hf_hub_download` (files) and `snapshot_download` (the spawn folder), cached
in the usual Hugging Face cache; `HF_ENDPOINT`, `HF_HUB_CACHE` and `HF_HUB_OFFLINE` are honoured by huggingface_hub
itself.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from omegaconf import OmegaConf

from diamond_wm.config.agent import (
    ActorCriticConfig,
    AgentConfig,
    DenoiserConfig,
    InnerModelConfig,
    RewEndModelConfig,
)
from diamond_wm.config.atari_100k import ATARI_100K_GAMES
from diamond_wm.config.env import EnvConfig, GameConfig
from diamond_wm.config.published import strip_targets

log = logging.getLogger(__name__)

HUB_REPO_ID = "eloialonso/diamond"
ATARI_MODEL_PATH = "atari_100k/models/{game}.pt"
ATARI_AGENT_CONFIG_PATH = "atari_100k/config/agent/default.yaml"
ATARI_ENV_CONFIG_PATH = "atari_100k/config/env/atari.yaml"
PRETRAINED_HORIZON = 50  # imagination horizon when playing a published model
CSGO = "csgo"  # `--pretrained csgo`
CSGO_MODEL_PATH = "csgo/model/csgo.pt"
CSGO_AGENT_CONFIG_PATH = "csgo/config/agent/csgo.yaml"
CSGO_SPAWN_DIR = "csgo/spawn"


class HubDownloadError(RuntimeError):
    """A published file that could not be downloaded (no network, unknown file, ...): one-line message."""


def atari_env_id(game: str) -> str:
    """The ALE id the published models were trained on, e.g. `BreakoutNoFrameskip-v4`."""
    return f"{game}NoFrameskip-v4"


def resolve_game(name: str) -> str:
    """The canonical name of an Atari 100k game from a name in any case, an env id or a number (0-25).

    Raises ValueError listing the games for anything else.
    """
    text = str(name).strip()
    if text.isdigit() and 0 <= int(text) < len(ATARI_100K_GAMES):
        return ATARI_100K_GAMES[int(text)]
    key = text.lower().removesuffix("noframeskip-v4").removeprefix("ale/").removesuffix("-v5")
    for game in ATARI_100K_GAMES:
        if game.lower() == key:
            return game
    raise ValueError(f"unknown Atari 100k game {name!r}: expected one of {', '.join(ATARI_100K_GAMES)}")


@dataclass(frozen=True)
class PretrainedFiles:
    """Local paths (in the Hugging Face cache) of one game's published files."""

    game: str
    model: Path
    agent_config: Path
    env_config: Path


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def hub_download(
    filename: str,
    *,
    repo_id: str = HUB_REPO_ID,
    revision: Optional[str] = None,
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> Path:
    """Download (or find in the cache) one file of the Hub repository; HubDownloadError on failure.

    A file not cached yet is first looked up once without retries, so that a machine without network gets its
    error at once (hf_hub_download alone retries with back-off for about 20 s before giving up).
    """
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url, try_to_load_from_cache

    log.info("fetching %s from the Hugging Face Hub (%s)", filename, repo_id)
    cached = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir, revision=revision)
    if not isinstance(cached, str):
        url = hf_hub_url(repo_id, filename, revision=revision, endpoint=endpoint)
        try:
            get_hf_file_metadata(url, endpoint=endpoint)
        except Exception as e:
            raise HubDownloadError(f"cannot download {filename} from {repo_id}: {_one_line(e)}") from e
    try:
        path = hf_hub_download(
            repo_id=repo_id,
            filename=filename,
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            endpoint=endpoint,
        )
    except Exception as e:  # network errors, LocalEntryNotFoundError, HTTP errors: all reported the same way
        raise HubDownloadError(f"cannot download {filename} from {repo_id}: {_one_line(e)}") from e
    return Path(path)


def download_pretrained(
    game: str,
    *,
    repo_id: str = HUB_REPO_ID,
    revision: Optional[str] = None,
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> PretrainedFiles:
    """The published model of `game` and the two config files, downloaded once and cached."""
    game = resolve_game(game)
    kwargs: dict[str, Any] = dict(repo_id=repo_id, revision=revision, cache_dir=cache_dir, endpoint=endpoint)
    model = hub_download(ATARI_MODEL_PATH.format(game=game), **kwargs)
    agent_cfg = hub_download(ATARI_AGENT_CONFIG_PATH, **kwargs)
    env_cfg = hub_download(ATARI_ENV_CONFIG_PATH, **kwargs)
    return PretrainedFiles(game, model, agent_cfg, env_cfg)


@dataclass(frozen=True)
class PretrainedCSGOFiles:
    """Local paths (in the Hugging Face cache) of the published CS:GO world model's files."""

    model: Path
    agent_config: Path
    spawn: Path


def hub_download_folder(
    folder: str,
    *,
    repo_id: str = HUB_REPO_ID,
    revision: Optional[str] = None,
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> Path:
    """Download (or find in the cache) every file under `folder` of the Hub repository -> its local copy;
    HubDownloadError on failure. Without network, a folder downloaded before is used as is."""
    from huggingface_hub import snapshot_download

    log.info("fetching %s/ from the Hugging Face Hub (%s)", folder, repo_id)
    try:
        root = snapshot_download(
            repo_id=repo_id,
            allow_patterns=f"{folder}/*",
            revision=revision,
            cache_dir=None if cache_dir is None else str(cache_dir),
            endpoint=endpoint,
        )
    except Exception as e:  # no network and nothing cached, unknown repo or revision: reported alike
        raise HubDownloadError(f"cannot download {folder}/ from {repo_id}: {_one_line(e)}") from e
    path = Path(root) / folder
    if not path.is_dir():
        raise HubDownloadError(f"cannot download {folder}/ from {repo_id}: it holds no file there")
    return path


def download_csgo(
    *,
    repo_id: str = HUB_REPO_ID,
    revision: Optional[str] = None,
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> PretrainedCSGOFiles:
    """The published CS:GO world model, its agent config and its spawn points, downloaded once and cached."""
    kwargs: dict[str, Any] = dict(repo_id=repo_id, revision=revision, cache_dir=cache_dir, endpoint=endpoint)
    spawn = hub_download_folder(CSGO_SPAWN_DIR, **kwargs)  # small: a missing network shows before the 1.5 GB
    agent_cfg = hub_download(CSGO_AGENT_CONFIG_PATH, **kwargs)
    model = hub_download(CSGO_MODEL_PATH, **kwargs)
    return PretrainedCSGOFiles(model, agent_cfg, spawn)


def _known_only(cls: type, data: dict[str, Any], where: str) -> dict[str, Any]:
    """Keep the keys of `data` that `cls` knows (recursively for nested configs); log the others."""
    fields = {f.name for f in dataclasses.fields(cls)}
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k not in fields:
            log.warning("%s: key %r is not used by diamond-wm (ignored)", where, k)
            continue
        out[k] = v
    return out


def known_agent_keys(data: dict[str, Any], where: str) -> dict[str, Any]:
    """The keys of a plain agent dict that diamond-wm has (recursively); the others are logged and dropped."""
    out = _known_only(AgentConfig, data, where)
    for key, cls in (
        ("denoiser", DenoiserConfig),
        ("upsampler", DenoiserConfig),
        ("rew_end_model", RewEndModelConfig),
        ("actor_critic", ActorCriticConfig),
    ):
        if isinstance(out.get(key), dict):
            out[key] = _known_only(cls, out[key], f"{where}.{key}")
    for key in ("denoiser", "upsampler"):
        den = out.get(key)
        if isinstance(den, dict) and isinstance(den.get("inner_model"), dict):
            den["inner_model"] = _known_only(
                InnerModelConfig, den["inner_model"], f"{where}.{key}.inner_model"
            )
    return out


def read_published_configs(
    agent_yaml: str | Path, env_yaml: str | Path, env_id: Optional[str] = None
) -> tuple[AgentConfig, EnvConfig]:
    """AgentConfig and EnvConfig from the published YAML files (values only; `_target_` keys ignored).

    `env_id` replaces `env.train.id` before interpolation (the test env and the keymap follow it).
    """
    try:
        agent = OmegaConf.load(agent_yaml)
        env = OmegaConf.load(env_yaml)
        if env_id is not None:
            env.train.id = env_id
        root = OmegaConf.create({"agent": agent, "env": env})
        data = OmegaConf.to_container(root, resolve=True)
    except Exception as e:
        raise ValueError(f"cannot read the published configs {agent_yaml}, {env_yaml}: {_one_line(e)}") from e
    from diamond_wm.models.agent import agent_config_from_dict

    data = strip_targets(data)  # values only: the reference's class names are not ours
    agent_cfg = agent_config_from_dict(known_agent_keys(data["agent"], str(agent_yaml)))
    env_data = data["env"]
    games = {}
    for split in ("train", "test"):
        d = _known_only(GameConfig, dict(env_data.get(split) or {}), f"{env_yaml}:{split}")
        default = GameConfig() if split == "train" else GameConfig(done_on_life_loss=False)
        games[split] = dataclasses.replace(default, **d)
    env_cfg = EnvConfig(
        type=str(env_data.get("type", "atari")),
        train=games["train"],
        test=games["test"],
        keymap=env_data.get("keymap"),
    )
    return agent_cfg, env_cfg
