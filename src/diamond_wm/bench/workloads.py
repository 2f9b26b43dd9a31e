"""The paper's workloads, built on the project's real code paths with random weights.

Each builder returns a `Workload`: a no-argument callable doing one unit of work (one optimizer step, one
imagination step...) through the same functions training and play use (`Denoiser.compute_loss`,
`RewEndModel.compute_loss`, `WorldModelEnv.step`, `ActorCriticRollout` + `actor_critic_loss`,
`configure_optimizer` + `train_component`), so that what speeds them up speeds up training.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional

import torch
from torch import nn

from diamond_wm.config.agent import AgentConfig, DiffusionSamplerConfig
from diamond_wm.config.derived import denoiser_seq_length, rew_end_seq_length
from diamond_wm.config.trainer import TrainerConfig
from diamond_wm.data.batch import Batch
from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.agent import Agent, agent_config_from_dict
from diamond_wm.models.world_model import world_model_of
from diamond_wm.runtime.compile import compile_for_training, compile_world_model, use_channels_last
from diamond_wm.runtime.precision import autocast as precision_autocast
from diamond_wm.runtime.precision import check_precision
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.driver import PolicyDriver
from diamond_wm.training.objectives import ActorCriticObjective, DenoiserObjective, RewEndObjective
from diamond_wm.training.optim import configure_optimizer
from diamond_wm.training.rollout import ActorCriticRollout

log = logging.getLogger(__name__)

NUM_ACTIONS = 4  # Breakout's minimal action set
WORKLOAD_NAMES = (
    "denoiser_train_step",
    "rew_end_train_step",
    "wm_step",
    "actor_critic_train_step",
    "play_step",
    "real_env_step",
)


@dataclass
class BenchSettings:
    """What the workloads are built for. `tiny` shrinks networks, frames and batches (for tests)."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    precision: str = "fp32"
    tiny: bool = False
    batch_size: Optional[int] = None  # None: 32 (the paper's), 2 when tiny
    seed: int = 0
    compile: bool = (
        False  # torch.compile the networks as `training.compile` does (the world model's alone with freeze)
    )
    freeze: bool = False  # with compile: weights as constants in no-grad graphs (imagination, play)
    channels_last: bool = False  # the U-Nets' convolution weights in NHWC order (`use_channels_last`)
    cuda_graphs: bool = False  # with compile on CUDA: graphs captured as CUDA graphs ("reduce-overhead")

    def __post_init__(self) -> None:
        self.device = torch.device(self.device)
        check_precision(self.precision, self.device)
        if self.freeze and not self.compile:
            raise ValueError("freeze=True needs compile=True (freezing is a torch.compile option)")

    @property
    def batch(self) -> int:
        return self.batch_size if self.batch_size is not None else (2 if self.tiny else 32)


@dataclass
class Workload:
    """One unit of work of a benchmark entry; `close` releases what it holds (environments)."""

    name: str
    fn: Callable[[], Any]
    close: Callable[[], None] = lambda: None


def tiny_agent_config(num_steps_conditioning: int = 4) -> AgentConfig:
    """A small agent on 16x16 frames (same architecture), for fast smoke runs of the bench and for tests."""
    return agent_config_from_dict(
        {
            "denoiser": {
                "inner_model": {
                    "num_steps_conditioning": num_steps_conditioning,
                    "cond_channels": 16,
                    "depths": [1, 1],
                    "channels": [8, 8],
                    "attn_depths": [0, 1],
                }
            },
            "rew_end_model": {
                "lstm_dim": 8,
                "img_size": 16,
                "cond_channels": 8,
                "depths": [1, 1],
                "channels": [8, 8],
                "attn_depths": [0, 0],
            },
            "actor_critic": {"lstm_dim": 8, "img_size": 16, "channels": [4, 4], "down": [1, 1]},
        }
    )


@torch.no_grad()
def randomize_zero_layers(module: nn.Module) -> None:
    """Give every layer whose weight is initialised to zero (output convs, second convs of residual blocks,
    attention output projections, policy/value heads) PyTorch's default random init, so that every layer of
    a fresh network contributes to its output (a fresh denoiser otherwise outputs c_skip * x exactly)."""
    for mod in module.modules():
        weight = getattr(mod, "weight", None)
        if isinstance(mod, (nn.Conv2d, nn.Linear)) and weight is not None and not weight.any():
            mod.reset_parameters()


@torch.no_grad()
def rare_ends(agent: Agent) -> None:
    """Make the termination head of the random reward/termination model predict "continue" (as a trained model
    does almost always), so that imagination steps time sampling, not restarts; the computation is unchanged."""
    first, last = agent.rew_end_model.head[0], agent.rew_end_model.head[-1]
    first.weight.zero_()
    first.bias.fill_(1.0)  # SiLU(1) > 0 in every unit
    last.weight[3].fill_(1.0)  # "continue" logit up
    last.weight[4].fill_(-1.0)  # "end" logit down


def build_agent(settings: BenchSettings) -> Agent:
    """The paper's Atari networks (or the tiny ones) with random weights, on the bench device."""
    torch.manual_seed(settings.seed)
    cfg = tiny_agent_config() if settings.tiny else AgentConfig()
    agent = Agent(cfg, NUM_ACTIONS)
    randomize_zero_layers(agent)
    rare_ends(agent)
    agent = agent.to(settings.device)
    if settings.channels_last:
        use_channels_last(agent)
    if settings.compile and settings.freeze:  # play: the weights are constants
        compile_world_model(agent, freeze=True, cuda_graphs=settings.cuda_graphs)
    elif settings.compile:  # what `diamond train training.compile=true` compiles
        compile_for_training(agent, cuda_graphs=settings.cuda_graphs)
    return agent


def img_shape(agent: Agent) -> tuple[int, int, int]:
    """(C, H, W) of the agent's frames."""
    cfg = agent.cfg.rew_end_model
    return cfg.img_channels, cfg.img_size, cfg.img_size


def autocast(settings: BenchSettings) -> contextlib.AbstractContextManager:
    """bf16 autocast on the bench device for `precision == "bf16"`, else nothing."""
    return precision_autocast(settings.device, settings.precision)


def random_frames(shape: tuple[int, ...], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Random 8-bit frames mapped to [-1, 1] (as the datasets deliver them)."""
    return (torch.randint(0, 256, shape, generator=gen).float().div(255).mul(2).sub(1)).to(device)


def random_batch(
    b: int, t: int, chw: tuple[int, int, int], gen: torch.Generator, device: torch.device
) -> Batch:
    """B segments of T steps of random frames and actions, no padding, no termination."""
    return Batch(
        obs=random_frames((b, t, *chw), gen, device),
        act=torch.randint(0, NUM_ACTIONS, (b, t), generator=gen).to(device),
        rew=torch.randint(-1, 2, (b, t), generator=gen).float().to(device),
        end=torch.zeros(b, t, dtype=torch.uint8, device=device),
        trunc=torch.zeros(b, t, dtype=torch.uint8, device=device),
        mask_padding=torch.ones(b, t, dtype=torch.bool, device=device),
    )


def context_source(chw: tuple[int, int, int], n: int, device: torch.device) -> Callable:
    """An `InitialConditionSource` of random real-looking contexts (random frames and actions)."""

    def source(count: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,), generator=generator)))
        obs = random_frames((count, n, *chw), gen, device)
        act = torch.randint(0, NUM_ACTIONS, (count, n), generator=gen).to(device)
        return obs, act

    return source


def component(
    name: str, model: nn.Module, objective: nn.Module, batch: Batch | None, trainer_cfg: TrainerConfig
) -> ComponentState:
    """The model and its objective, always on `batch`, with the optimizer, LR schedule and clipping of training."""
    comp_cfg = getattr(trainer_cfg, name)
    opt, sched = configure_optimizer(model, comp_cfg.optimizer, comp_cfg.training.lr_warmup_steps)
    t = comp_cfg.training
    return ComponentState(
        name, model, objective, lambda: batch, opt, sched, t.grad_acc_steps, t.max_grad_norm
    )


def trainer_config(agent: Agent) -> TrainerConfig:
    cfg = TrainerConfig()
    cfg.agent = agent.cfg
    return cfg


def make_wm_env(agent: Agent, settings: BenchSettings, num_envs: int, horizon: int) -> WorldModelEnv:
    n = agent.denoiser.num_steps_conditioning
    world_model = world_model_of(agent, DiffusionSamplerConfig(), seed=settings.seed)
    return WorldModelEnv(world_model, context_source(img_shape(agent), n, settings.device), num_envs, horizon)


def _train_step(comp: ComponentState, settings: BenchSettings) -> Callable[[], None]:
    def step() -> None:
        with autocast(settings):
            train_component(comp, steps=1, show_progress=False)

    return step


def denoiser_train_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One denoiser update: batch of 6-frame segments (4 context + 1 target + 1 autoregressive step)."""
    cfg = trainer_config(agent)
    gen = torch.Generator().manual_seed(settings.seed + 1)
    batch = random_batch(settings.batch, denoiser_seq_length(cfg), img_shape(agent), gen, settings.device)
    objective = DenoiserObjective(agent.denoiser, cfg.denoiser.sigma_distribution)
    comp = component("denoiser", agent.denoiser, objective, batch, cfg)
    return Workload("denoiser_train_step", _train_step(comp, settings))


def rew_end_train_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One reward/termination update: batch of 19-step segments (horizon 15 + 4 context frames)."""
    cfg = trainer_config(agent)
    gen = torch.Generator().manual_seed(settings.seed + 2)
    batch = random_batch(settings.batch, rew_end_seq_length(cfg), img_shape(agent), gen, settings.device)
    comp = component("rew_end_model", agent.rew_end_model, RewEndObjective(agent.rew_end_model), batch, cfg)
    return Workload("rew_end_train_step", _train_step(comp, settings))


def wm_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One imagination step of `batch` environments: 3 Euler denoising steps + reward/termination."""
    env = make_wm_env(agent, settings, settings.batch, horizon=10**9)  # no truncation: pure steps
    env.reset()
    gen = torch.Generator().manual_seed(settings.seed + 3)

    def step() -> None:
        act = torch.randint(0, NUM_ACTIONS, (settings.batch,), generator=gen)
        with autocast(settings):
            env.step(act)

    return Workload("wm_step", step, env.close)


def actor_critic_train_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One actor-critic update: a 15-step imagined rollout of `batch` environments + loss + backward + step."""
    cfg = trainer_config(agent)
    horizon = cfg.world_model_env.horizon
    env = make_wm_env(agent, settings, settings.batch, horizon)
    rollout = ActorCriticRollout(env, agent.actor_critic, cfg.actor_critic.actor_critic_loss.backup_every)
    objective = ActorCriticObjective(agent.actor_critic, rollout, cfg.actor_critic.actor_critic_loss)
    comp = component("actor_critic", agent.actor_critic, objective, None, cfg)
    return Workload("actor_critic_train_step", _train_step(comp, settings), env.close)


class _PolicyPlayer:
    """The policy acting in an environment, one step at a time, as `diamond play` does (no gradients)."""

    def __init__(self, agent: Agent, env: Any, settings: BenchSettings) -> None:
        self.settings = settings
        self.gen = torch.Generator().manual_seed(settings.seed + 4)
        self.driver = PolicyDriver(env, agent.actor_critic)
        self.driver.reset(seed=settings.seed)

    @torch.inference_mode()
    def step(self) -> None:
        with autocast(self.settings):
            out = self.driver.forward()
            probs = out.logits_act.float().softmax(dim=-1).cpu()
            act = torch.multinomial(probs, 1, generator=self.gen).squeeze(1)
            self.driver.step(act, out.hx_cx)


def play_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One step of play in the world model: policy + 3 denoising steps + reward/termination, one environment."""
    env = make_wm_env(agent, settings, 1, horizon=10**9)
    player = _PolicyPlayer(agent, env, settings)
    return Workload("play_step", player.step, env.close)


def real_env_step(agent: Agent, settings: BenchSettings) -> Workload:
    """One step of Breakout with the policy: ALE, frame skip 4 (max-pooled), 64x64 RGB (area interpolation)."""
    from diamond_wm.config.env import GameConfig
    from diamond_wm.envs.factory import make_env

    size = img_shape(agent)[1]
    game = GameConfig(id="BreakoutNoFrameskip-v4", size=size, frame_skip=4, noop_max=30)
    env = make_env(game, "atari", num_envs=1, device=settings.device, asynchronous=False)
    player = _PolicyPlayer(agent, env, settings)
    return Workload("real_env_step", player.step, env.close)


BUILDERS: dict[str, Callable[[Agent, BenchSettings], Workload]] = {
    "denoiser_train_step": denoiser_train_step,
    "rew_end_train_step": rew_end_train_step,
    "wm_step": wm_step,
    "actor_critic_train_step": actor_critic_train_step,
    "play_step": play_step,
    "real_env_step": real_env_step,
}
