"""Typed configuration of a training run (tree and key names of the published `config/trainer.yaml`).

Defaults are the paper's Atari 100k schedule. Values the published YAML derived with an `eval` resolver (the
sequence lengths of the world model's training segments) are computed in code: see `derived.py`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from diamond_wm.config.agent import (
    ActorCriticLossConfig,
    AgentConfig,
    DiffusionSamplerConfig,
    SigmaDistributionConfig,
)
from diamond_wm.config.env import EnvConfig

WANDB_MODES = ("online", "offline", "disabled")


def _sample_weights() -> list[float]:
    return [0.1, 0.1, 0.1, 0.7]


@dataclass
class WandbConfig:
    mode: str = "disabled"
    project: Optional[str] = None
    entity: Optional[str] = None
    name: Optional[str] = None
    group: Optional[str] = None
    tags: Optional[list[str]] = None
    notes: Optional[str] = None


@dataclass
class InitializationConfig:
    """Start from an agent checkpoint (ours or a published `agent_epoch_*.pt` / `<Game>.pt`)."""

    path_to_ckpt: Optional[str] = None
    load_denoiser: bool = True
    load_upsampler: bool = True
    load_rew_end_model: bool = True
    load_actor_critic: bool = True


@dataclass
class CommonConfig:
    """`devices`: null (first CUDA GPU, else MPS, else CPU), an int, a list of ints, `cpu`, `mps`, `cuda`,
    `cuda:N` or `all` (every CUDA GPU). `seed`: null draws one, logs it and records it in the run."""

    devices: Any = None
    seed: Optional[int] = None
    resume: bool = False


@dataclass
class CheckpointingConfig:
    save_agent_every: int = 5
    num_to_keep: Optional[int] = 11


@dataclass
class FirstEpochCollectionConfig:
    """Initial collection: at least `min` steps, then 100 more at a time up to `max` until the two rarer reward
    signs total `threshold_rew`."""

    min: int = 5000
    max: Optional[int] = 10000
    threshold_rew: int = 10


@dataclass
class TrainCollectionConfig:
    num_envs: int = 1
    epsilon: float = 0.01
    num_steps_total: int = 100_000
    first_epoch: FirstEpochCollectionConfig = field(default_factory=FirstEpochCollectionConfig)
    steps_per_epoch: int = 100


@dataclass
class TestCollectionConfig:
    num_envs: int = 1
    num_episodes: int = 4
    epsilon: float = 0.0
    num_final_episodes: int = 100


@dataclass
class CollectionConfig:
    train: TrainCollectionConfig = field(default_factory=TrainCollectionConfig)
    test: TestCollectionConfig = field(default_factory=TestCollectionConfig)


@dataclass
class StaticDatasetConfig:
    """Train the world model on a fixed dataset folder (no collection)."""

    path: Optional[str] = None
    ignore_sample_weights: bool = True
    # The same episodes at full resolution (same layout: train/, test/), for an upsampler (agent.upsampler).
    full_res_path: Optional[str] = None


@dataclass
class TrainingConfig:
    should: bool = True
    num_final_epochs: int = 50
    cache_in_ram: bool = True  # the published default; False reads segments from the episode files
    num_workers_data_loaders: int = 0  # > 0: DataLoader workers read the segments from the episode files
    model_free: bool = False
    # torch.compile of the networks (denoiser and upsampler U-Nets, reward/termination model, actor-critic) in every
    # update, imagination, collection and test losses; graphs are compiled in the first epoch (a C++ compiler is
    # needed on CPU) and the checkpoints keep their keys.
    compile: bool = False
    compile_wm: bool = False  # true is read as `compile: true` (one log line)
    # With `compile` on CUDA: the compiled graphs captured as CUDA graphs (Inductor's "reduce-overhead" mode), one
    # launch per network call in updates and imagination; refused elsewhere.
    cuda_graphs: bool = False
    # "fp32" (the published numerics) or "bf16": bf16 autocast of the networks' forward passes in every update,
    # imagination, collection and test losses; weights, optimizer state, losses and the diffusion sampler's
    # arithmetic stay in float32.
    precision: str = "fp32"
    # true: float32 matmuls on CUDA may use TF32 tensor cores (faster, ~10-bit mantissa); false keeps PyTorch's
    # defaults, as the published code does: float32 matmuls in full float32, cuDNN convolutions allowed TF32. No
    # effect on CPU (one log line).
    tf32: bool = False


@dataclass
class EvaluationConfig:
    should: bool = True
    every: int = 10
    max_test_batches: Optional[int] = None  # world-model test losses on the first N batches only; null: all


@dataclass
class OptimizerConfig:
    lr: float = 1e-4
    weight_decay: float = 1e-2
    eps: float = 1e-8


@dataclass
class ComponentTrainingConfig:
    """Schedule of one component: steps per epoch (longer first epoch), batch, warm-up, clipping."""

    start_after_epochs: int = 0
    steps_first_epoch: int = 10_000
    steps_per_epoch: int = 400
    sample_weights: Optional[list[float]] = field(default_factory=_sample_weights)
    batch_size: int = 32
    grad_acc_steps: int = 1
    lr_warmup_steps: int = 100
    max_grad_norm: Optional[float] = 100.0


@dataclass
class DenoiserTrainingConfig(ComponentTrainingConfig):
    num_autoregressive_steps: int = 1
    max_grad_norm: Optional[float] = 1.0


@dataclass
class DenoiserComponentConfig:
    training: DenoiserTrainingConfig = field(default_factory=DenoiserTrainingConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    sigma_distribution: SigmaDistributionConfig = field(default_factory=SigmaDistributionConfig)


@dataclass
class RewEndTrainingConfig(ComponentTrainingConfig):
    # Share of each batch's segments placed around rewarded steps (0: none, the published sampling); the loss then
    # corrects the reward logits for the classes' changed frequencies (`training.objectives.RewEndObjective`).
    rewarded_share: float = 0.0
    # Share of each batch's segments whose frames are imagined one step at a time from the real ones before them,
    # with imagination's sampler settings (0: none, the published training on real frames only;
    # `training.imagined_frames`).
    imagined_share: float = 0.0


@dataclass
class RewEndComponentConfig:
    training: RewEndTrainingConfig = field(default_factory=RewEndTrainingConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)


@dataclass
class ActorCriticComponentConfig:
    training: ComponentTrainingConfig = field(
        default_factory=lambda: ComponentTrainingConfig(steps_first_epoch=5000)
    )
    actor_critic_loss: ActorCriticLossConfig = field(default_factory=ActorCriticLossConfig)
    optimizer: OptimizerConfig = field(default_factory=lambda: OptimizerConfig(weight_decay=0.0))


@dataclass
class WorldModelEnvConfig:
    """Imagination: horizon of the rollouts and the sampler that generates each next frame.

    The CS:GO world model (an agent with an upsampler) reads the published csgo keys instead:
    `diffusion_sampler_next_obs` (its low-resolution next frame) and `diffusion_sampler_upsampling` (defaults: the
    published `fast` preset)."""

    horizon: int = 15
    num_batches_to_preload: int = 256
    diffusion_sampler: DiffusionSamplerConfig = field(default_factory=DiffusionSamplerConfig)
    diffusion_sampler_next_obs: DiffusionSamplerConfig = field(
        default_factory=lambda: DiffusionSamplerConfig(num_steps_denoising=1, s_cond=0.005)
    )
    diffusion_sampler_upsampling: DiffusionSamplerConfig = field(
        default_factory=lambda: DiffusionSamplerConfig(
            num_steps_denoising=1,
            sigma_min=1.0,
            order=2,
            s_churn=10.0,
            s_tmin=1.0,
            s_tmax=5.0,
            s_noise=0.9,
        )
    )


@dataclass
class TrainerConfig:
    """Everything a training run reads. Composed from the packaged `trainer.yaml` and its groups."""

    wandb: WandbConfig = field(default_factory=WandbConfig)
    initialization: InitializationConfig = field(default_factory=InitializationConfig)
    common: CommonConfig = field(default_factory=CommonConfig)
    checkpointing: CheckpointingConfig = field(default_factory=CheckpointingConfig)
    collection: CollectionConfig = field(default_factory=CollectionConfig)
    static_dataset: StaticDatasetConfig = field(default_factory=StaticDatasetConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    denoiser: DenoiserComponentConfig = field(default_factory=DenoiserComponentConfig)
    upsampler: DenoiserComponentConfig = field(
        default_factory=DenoiserComponentConfig
    )  # CS:GO's second stage
    rew_end_model: RewEndComponentConfig = field(default_factory=RewEndComponentConfig)
    actor_critic: ActorCriticComponentConfig = field(default_factory=ActorCriticComponentConfig)
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    world_model_env: WorldModelEnvConfig = field(default_factory=WorldModelEnvConfig)
