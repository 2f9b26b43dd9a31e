"""Find and load the agent that `diamond play` / `diamond eval` use: a run folder, a checkpoint file, or a
published model, together with the environments it was trained on.

- Run folder (ours or the published code's): the newest `checkpoints/agent_versions/agent_epoch_XXXXX.pt`, else
  the agent inside our `checkpoints/state.pt`; the environments and networks come from `config/trainer.yaml`
  (a published one is read for its values: `diamond_wm.config.published`).
- Checkpoint file (a bare state_dict, ours or published, or an older diamond-wm file with its config): the
  networks of `diamond_wm.loading.agent_config` (command line, the file's own config, its run folder's, a
  packaged preset). The environment comes from `env_id`, else from the run folder's config.
- Published model (`--pretrained`): see `diamond_wm.hub`.
- The CS:GO world model (no policy, keyboard and mouse actions) is loaded by `diamond_wm.loading.csgo`;
  its weights given here are refused in one line that says how to play them (`refuse_csgo`).

Nothing is written into the folders read. Every problem a user can fix is raised as `LoadError` with a one-line
message, among them a checkpoint whose actions differ from its environment's (`check_action_spec`). The actions are
those the run folder recorded (`config/action_spec.json`), else as many discrete actions as the weights tell.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.config.actions import ActionSpec, action_mismatch, read_action_spec
from diamond_wm.config.agent import AgentConfig, DiffusionSamplerConfig
from diamond_wm.config.env import EnvConfig, GameConfig
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.loading.agent_config import (
    HOW_TO_GIVE,
    AgentRequest,
    detect_preset,
    resolve_agent_request,
)
from diamond_wm.models.agent import Agent
from diamond_wm.models.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    build_loaded,
    infer_num_actions,
    load_agent_state,
)
from diamond_wm.runtime.safe_load import safe_torch_load
from diamond_wm.training.run_dir import AGENT_VERSION_RE, RunDir

log = logging.getLogger(__name__)


class LoadError(RuntimeError):
    """Something the user can fix (missing checkpoint, unknown env id, no network...): one-line message."""


@dataclass
class LoadedAgent:
    """An agent ready to act, and what is known about where it came from."""

    agent: Agent
    env: Optional[
        EnvConfig
    ]  # None only from `load_checkpoint(require_env=False)` of a file with no known game
    sampler: DiffusionSamplerConfig
    checkpoint: Path
    run_dir: Optional[Path] = None
    run_cfg: Optional[TrainerConfig] = None
    epoch: Optional[int] = None  # epoch of the checkpoint (run folders and agent_epoch_XXXXX.pt files)
    game: Optional[str] = None  # published Atari game
    extra: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        """A short name of the checkpoint (file stem, or the game of a published model)."""
        return self.game or self.checkpoint.stem


def is_run_dir(path: Path) -> bool:
    return (path / "config" / "trainer.yaml").is_file() or (path / "checkpoints").is_dir()


def find_run_root(checkpoint: Path) -> Optional[Path]:
    """The run folder a checkpoint file lies in (`RUN/checkpoints/agent_versions/x.pt`, `RUN/checkpoints/x.pt`)."""
    for parent in list(checkpoint.resolve().parents)[:3]:
        if (parent / "config" / "trainer.yaml").is_file():
            return parent
    return None


def read_run_config(run: Path) -> TrainerConfig:
    """The run's config: ours, or the values of a published run's (`diamond_wm.config.published`)."""
    from diamond_wm.config.compose import load_run_config
    from diamond_wm.config.published import is_published_config, read_published_trainer_config

    path = RunDir(run).config_file
    if not path.is_file():
        raise LoadError(f"{run} is not a training run folder: {path} not found")
    try:
        if is_published_config(path):
            log.info("%s: a run of the published DIAMOND code (its config is read for its values)", run)
            return read_published_trainer_config(path)
        return load_run_config(path)
    except (ValueError, OSError) as e:
        raise LoadError(f"cannot read the run config {path}: {str(e).splitlines()[0]}") from e


CSGO_WORLD_MODEL = "a CS:GO world model (denoiser + upsampler, 51-dim multi-hot keyboard and mouse actions)"
CSGO_PLAY = (
    "diamond play --checkpoint {path} --spawn DIR (spawn points from a dataset: diamond dataset spawn; or "
    "diamond play --pretrained csgo)"
)


def is_csgo_state_dict(state_dict: dict[str, torch.Tensor]) -> bool:
    """Whether these are the weights of the CS:GO world model: it alone has an upsampler."""
    return any(k.startswith("upsampler.") for k in state_dict)


def refuse_csgo(state_dict: dict[str, torch.Tensor], path: Path, target: str) -> None:
    """LoadError naming both when the weights of the CS:GO world model are given where an agent that plays
    `target` (a game with a policy and discrete actions) is expected."""
    if is_csgo_state_dict(state_dict):
        raise LoadError(
            f"checkpoint {path} is {CSGO_WORLD_MODEL}, not an agent for {target}: play it with "
            + CSGO_PLAY.format(path=path)
        )


def check_action_spec(
    actions: ActionSpec, checkpoint: Path | str, env_actions: ActionSpec, env_id: str
) -> None:
    """LoadError naming both when a checkpoint is used with an environment of other actions (kind or number)."""
    mismatch = action_mismatch(actions, f"checkpoint {checkpoint}", env_actions, env_id)
    if mismatch is not None:
        raise LoadError(f"{mismatch}: a checkpoint of another game? (--env-id)")


def run_actions(run: Optional[Path], num_actions: int) -> ActionSpec | int:
    """The actions a run folder recorded, else the number of discrete actions the checkpoint's weights tell."""
    if run is None:
        return num_actions
    try:
        return read_action_spec(RunDir(run).action_spec_file) or num_actions
    except ValueError as e:
        raise LoadError(str(e).splitlines()[0]) from e


def _epoch_of(path: Path) -> Optional[int]:
    m = AGENT_VERSION_RE.match(path.name)
    return int(m.group(1)) if m else None


def env_type_of(env_id: str) -> str:
    """'atari' for ALE ids, else 'gym'."""
    from diamond_wm.envs.atari import is_atari_id

    return "atari" if is_atari_id(env_id) else "gym"


def env_config_for_id(env_id: str, size: int) -> EnvConfig:
    """Train/test game configs for an env id: the paper's Atari settings, or plain pixels for other games."""
    import diamond_wm.envs  # noqa: F401  (registers diamond_wm/Catch-v0)
    from diamond_wm.envs.gym_pixels import check_gym_id

    kind = env_type_of(env_id)
    if kind == "gym":
        check_gym_id(env_id)  # ValueError naming the id when Gymnasium does not know it
    if kind == "atari":
        train = GameConfig(id=env_id, size=size)
        test = GameConfig(id=env_id, size=size, done_on_life_loss=False)
    else:
        train = GameConfig(id=env_id, size=size, noop_max=0, frame_skip=1, done_on_life_loss=False)
        test = GameConfig(id=env_id, size=size, noop_max=0, frame_skip=1, done_on_life_loss=False)
    return EnvConfig(type=kind, train=train, test=test, keymap=None)


def _build(
    state_dict: dict[str, torch.Tensor],
    cfg: AgentConfig,
    actions: ActionSpec | int,
    source: Path,
    device: torch.device,
) -> Agent:
    try:
        agent = build_loaded(cfg, actions, state_dict)
    except CheckpointMismatchError as e:
        kinds = (
            (e.missing, "missing keys"),
            (e.unexpected, "unexpected keys"),
            (e.shape_mismatches, "shape mismatches"),
        )
        parts = [
            f"{len(x)} {what} (e.g. {x[0][0] if isinstance(x[0], tuple) else x[0]})" for x, what in kinds if x
        ]
        raise LoadError(
            f"{source} does not fit the agent config ({', '.join(parts)}): other network sizes? "
            + HOW_TO_GIVE
        ) from e
    except (CheckpointError, ValueError) as e:
        raise LoadError(f"{source} does not fit the agent config: {str(e).splitlines()[0]}") from e
    return agent.to(device).eval()


def _agent_config(
    request: Optional[AgentRequest], state_dict: dict[str, torch.Tensor], base: Optional[AgentConfig]
) -> Optional[AgentConfig]:
    if request is None or not request.given:
        return base
    try:
        return resolve_agent_request(request, state_dict, base)
    except ValueError as e:
        raise LoadError(str(e).splitlines()[0]) from e


def load_run(
    run: str | Path, device: torch.device | str = "cpu", agent_request: Optional[AgentRequest] = None
) -> LoadedAgent:
    """The latest agent of a run folder (see the module docstring); `agent_request` replaces its networks."""
    run = Path(run)
    if not run.is_dir():
        raise LoadError(f"run folder {run} does not exist")
    rd = RunDir(run)
    if not is_run_dir(run):
        raise LoadError(
            f"no agent checkpoint: {run.resolve()} is not a training run folder (no config/trainer.yaml, "
            "no checkpoints/); give a run folder, --checkpoint PATH or --pretrained GAME"
        )
    cfg = read_run_config(run)
    device = torch.device(device)
    versions = rd.list_agent_versions()
    if versions:
        path = versions[-1]
        try:
            state_dict, saved_cfg, num_actions = load_agent_state(path)
        except (CheckpointError, FileNotFoundError) as e:
            raise LoadError(str(e).splitlines()[0]) from e
        refuse_csgo(state_dict, path, cfg.env.test.id)
        agent_cfg = _agent_config(agent_request, state_dict, saved_cfg or cfg.agent)
        agent = _build(state_dict, agent_cfg, run_actions(run, num_actions), path, device)
        epoch = _epoch_of(path)
    elif rd.state_file.is_file():
        path = rd.state_file
        if rd.published_run_marks():
            raise LoadError(
                f"no agent checkpoint in {rd.agent_versions.resolve()}: a run of the published code keeps its "
                f"agents there ({path.name} is only read by the published code)"
            )
        try:
            state = safe_torch_load(path)  # a refused or damaged file: one line naming it
            state_dict = state["agent"]
        except Exception as e:
            raise LoadError(f"cannot read the agent in {path}: {str(e).splitlines()[0]}") from e
        agent_cfg = _agent_config(agent_request, state_dict, cfg.agent)
        agent = _build(state_dict, agent_cfg, run_actions(run, infer_num_actions(state_dict)), path, device)
        epoch = int(state.get("epoch", 0))
    else:
        raise LoadError(
            f"no agent checkpoint in {rd.agent_versions.resolve()} (and no {rd.state_file.name} in "
            f"{rd.checkpoints.resolve()}): has this run finished an epoch?"
        )
    log.info("agent: %s (epoch %s)%s", path, epoch, " (a finished run)" if rd.is_finished else "")
    return LoadedAgent(
        agent,
        cfg.env,
        cfg.world_model_env.diffusion_sampler,
        path,
        run,
        cfg,
        epoch,
        extra={"seed": cfg.common.seed},
    )


def read_checkpoint(path: Path) -> tuple[dict[str, Any], Any, Any]:
    """`load_agent_state(path)` (weights_only), with a missing or unreadable file as one `LoadError` line."""
    if not path.is_file():
        raise LoadError(f"checkpoint not found: {path}")
    try:
        return load_agent_state(path)
    except CheckpointError as e:
        raise LoadError(str(e).splitlines()[0]) from e


def load_checkpoint(
    path: str | Path,
    env_id: Optional[str] = None,
    agent_config: Optional[AgentConfig] = None,
    device: torch.device | str = "cpu",
    agent_request: Optional[AgentRequest] = None,
    require_env: bool = True,
) -> LoadedAgent:
    """An agent checkpoint file, ours or published (see the module docstring). `agent_config` (an AgentConfig)
    or `agent_request` (the command line's) give its networks; without them, see the module docstring.
    `require_env=False`: a file with no known game loads with `env` None (what needs only the world model)."""
    path = Path(path)
    state_dict, saved_cfg, num_actions = read_checkpoint(path)
    refuse_csgo(state_dict, path, env_id or "an Atari or Gymnasium game")
    run = find_run_root(path)
    run_cfg = read_run_config(run) if run is not None else None
    if env_id is None and run_cfg is None and require_env:
        raise LoadError(
            f"which game is {path} for? give --env-id (e.g. BreakoutNoFrameskip-v4, diamond_wm/Catch-v0)"
        )
    if env_id is not None:  # checked first: a misspelt id is the error to report, whatever the networks
        try:
            env_config_for_id(env_id, AgentConfig().actor_critic.img_size)
        except ValueError as e:
            raise LoadError(f"bad --env-id: {str(e).splitlines()[0]}") from e
    known = saved_cfg or (run_cfg.agent if run_cfg is not None else None)
    cfg = agent_config or _agent_config(agent_request, state_dict, known)
    if cfg is None:
        try:
            cfg = detect_preset(state_dict, num_actions, path)
        except ValueError as e:
            raise LoadError(str(e).splitlines()[0]) from e
    if env_id is not None:
        sized = cfg.actor_critic or cfg.rew_end_model  # a denoiser alone takes any size: the default's
        env = env_config_for_id(
            env_id, sized.img_size if sized is not None else AgentConfig().actor_critic.img_size
        )
    else:
        env = run_cfg.env if run_cfg is not None else None
    agent = _build(state_dict, cfg, run_actions(run, num_actions), path, torch.device(device))
    sampler = run_cfg.world_model_env.diffusion_sampler if run_cfg is not None else DiffusionSamplerConfig()
    return LoadedAgent(agent, env, sampler, path, run, run_cfg, _epoch_of(path))


def load_pretrained(
    game: str,
    device: torch.device | str = "cpu",
    cache_dir: Optional[str | Path] = None,
    endpoint: Optional[str] = None,
) -> LoadedAgent:
    """A published Atari 100k model, downloaded from the Hub (cached) with its configs."""
    from diamond_wm import hub

    try:
        game = hub.resolve_game(game)
    except ValueError as e:
        raise LoadError(str(e)) from e
    try:
        files = hub.download_pretrained(game, cache_dir=cache_dir, endpoint=endpoint)
    except hub.HubDownloadError as e:
        raise LoadError(
            f"{e} -- no network? Download {hub.ATARI_MODEL_PATH.format(game=game)} from "
            f"https://huggingface.co/{hub.HUB_REPO_ID} elsewhere and pass it with "
            f"--checkpoint PATH --env-id {hub.atari_env_id(game)}"
        ) from e
    try:
        agent_cfg, env_cfg = hub.read_published_configs(
            files.agent_config, files.env_config, hub.atari_env_id(game)
        )
        state_dict, _, num_actions = load_agent_state(files.model)
    except (ValueError, CheckpointError) as e:
        raise LoadError(str(e).splitlines()[0]) from e
    agent = _build(state_dict, agent_cfg, num_actions, files.model, torch.device(device))
    return LoadedAgent(agent, env_cfg, DiffusionSamplerConfig(), files.model, game=game)
