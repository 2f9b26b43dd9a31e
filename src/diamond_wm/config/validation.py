"""Checks of a composed training configuration, run before anything starts.

Each rule raises `ConfigError` naming the dotted key, the bad value and what is accepted.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Optional

from diamond_wm.config.agent import (
    DDPM_NUM_TRAIN_TIMESTEPS,
    DENOISER_PARAMETERISATIONS,
    AgentConfig,
    DiffusionSamplerConfig,
    SigmaDistributionConfig,
)
from diamond_wm.config.env import ENV_TYPES, GameConfig, check_keymap
from diamond_wm.config.errors import ConfigError
from diamond_wm.config.trainer import WANDB_MODES, ComponentTrainingConfig, OptimizerConfig, TrainerConfig
from diamond_wm.runtime.devices import parse_devices
from diamond_wm.runtime.precision import PRECISIONS


def _int_at_least(key: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, value, f"an integer >= {low}")


def _optional_int_at_least(key: str, value: Any, low: int) -> None:
    if value is not None:
        _int_at_least(key, value, low)


def _positive(key: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0 or math.isnan(value):
        raise ConfigError(key, value, "a number > 0")


def _non_negative(key: str, value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0:
        raise ConfigError(key, value, "a number >= 0")


def _probability(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(key, value, "a probability in [0, 1]")


def _positive_ints(key: str, values: Sequence[Any], allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if len(values) == 0 or any(isinstance(v, bool) or not isinstance(v, int) or v < low for v in values):
        raise ConfigError(key, list(values), f"a non-empty list of integers >= {low}")


def _same_length(key: str, values: Sequence[Any], ref_key: str, ref: Sequence[Any]) -> None:
    if len(values) != len(ref):
        raise ConfigError(key, list(values), f"a list as long as {ref_key} ({len(ref)} items)")


def check_sample_weights(key: str, weights: Optional[Sequence[float]]) -> None:
    """Episode-slice weights: null (uniform) or non-negative numbers summing to 1."""
    if weights is None:
        return
    weights = list(weights)
    if not weights or any(w < 0 for w in weights) or not math.isclose(sum(weights), 1.0, abs_tol=1e-6):
        raise ConfigError(key, weights, "null or a non-empty list of non-negative weights summing to 1")


def check_sigma_distribution(key: str, cfg: SigmaDistributionConfig) -> None:
    _positive(f"{key}.scale", cfg.scale)
    _positive(f"{key}.sigma_min", cfg.sigma_min)
    if not cfg.sigma_min < cfg.sigma_max:
        raise ConfigError(f"{key}.sigma_max", cfg.sigma_max, f"a number > sigma_min ({cfg.sigma_min})")


def check_sampler(key: str, cfg: DiffusionSamplerConfig) -> None:
    _int_at_least(f"{key}.num_steps_denoising", cfg.num_steps_denoising, 1)
    _positive(f"{key}.sigma_min", cfg.sigma_min)
    if not cfg.sigma_min < cfg.sigma_max:
        raise ConfigError(f"{key}.sigma_max", cfg.sigma_max, f"a number > sigma_min ({cfg.sigma_min})")
    _positive(f"{key}.rho", cfg.rho)
    if cfg.order not in (1, 2):
        raise ConfigError(f"{key}.order", cfg.order, "1 (Euler) or 2 (Heun)")
    _non_negative(f"{key}.s_churn", cfg.s_churn)
    _non_negative(f"{key}.s_noise", cfg.s_noise)
    if not cfg.s_tmin <= cfg.s_tmax:
        raise ConfigError(f"{key}.s_tmax", cfg.s_tmax, f"a number >= s_tmin ({cfg.s_tmin})")


def check_trained_parts(cfg: TrainerConfig) -> None:
    """The parts `diamond train` needs: an agent collects with its actor-critic and imagines with the world model;
    without an actor-critic (a world model alone, e.g. CS:GO's) it trains on a static dataset."""
    agent = cfg.agent
    if cfg.env.type == "csgo" and cfg.static_dataset.path is None:
        raise ConfigError(
            "env.path_data_low_res",
            cfg.env.path_data_low_res,
            "the folder of the low-resolution CS:GO dataset (train/, test/; see `diamond dataset csgo --help`)",
        )
    if cfg.env.type == "recorded" and cfg.static_dataset.path is None:
        raise ConfigError(
            "static_dataset.path",
            None,
            "the folder of your game's recorded play (train/, test/; see `diamond dataset import --help`): "
            "env.type=recorded has no environment to play",
        )
    if cfg.env.type == "csgo" and agent.actor_critic is not None:
        raise ConfigError(
            "agent.actor_critic", "a network config", "null: CS:GO is recorded play, no game to act in"
        )
    if agent.actor_critic is None:
        if cfg.training.model_free:
            raise ConfigError(
                "agent.actor_critic", None, "its network config: training.model_free=true trains it"
            )
        if cfg.static_dataset.path is None:
            raise ConfigError(
                "agent.actor_critic",
                None,
                "its network config: `diamond train` collects with it (a world model alone, without actor-critic, "
                "trains on recorded play: set static_dataset.path)",
            )
    elif not cfg.training.model_free:
        for part in ("denoiser", "rew_end_model"):  # imagination
            if getattr(agent, part) is None:
                raise ConfigError(
                    f"agent.{part}",
                    None,
                    "its network config: the actor-critic learns in the world model (training.model_free=true "
                    "needs only the actor-critic)",
                )
    if agent.upsampler is not None and cfg.static_dataset.full_res_path is None:
        raise ConfigError(
            "static_dataset.full_res_path",
            None,
            "the folder of the full-resolution episodes (train/, test/) the upsampler learns from",
        )


def check_agent(key: str, cfg: AgentConfig) -> None:
    """Network shapes of the parts present (a null part is absent): matching list lengths, positive widths,
    divisible conditioning channels."""
    if all(getattr(cfg, p) is None for p in ("denoiser", "upsampler", "rew_end_model", "actor_critic")):
        raise ConfigError(key, None, "at least one of denoiser, upsampler, rew_end_model, actor_critic")
    unets = []
    for part in ("denoiser", "upsampler"):
        den = getattr(cfg, part)
        if den is None:
            continue
        inner = den.inner_model
        k = f"{key}.{part}.inner_model"
        _positive(f"{key}.{part}.sigma_data", den.sigma_data)
        _non_negative(f"{key}.{part}.sigma_offset_noise", den.sigma_offset_noise)
        if den.parameterisation not in DENOISER_PARAMETERISATIONS:
            raise ConfigError(
                f"{key}.{part}.parameterisation", den.parameterisation, " | ".join(DENOISER_PARAMETERISATIONS)
            )
        if part == "upsampler" and (den.upsampling_factor is None or den.parameterisation != "edm"):
            raise ConfigError(
                f"{key}.upsampler.upsampling_factor",
                den.upsampling_factor,
                "an integer >= 1 (the low- to full-resolution factor, e.g. 5), with the edm parameterisation",
            )
        if den.upsampling_factor is not None:
            _int_at_least(f"{key}.{part}.upsampling_factor", den.upsampling_factor, 1)
        _int_at_least(f"{k}.num_steps_conditioning", inner.num_steps_conditioning, 1)
        _int_at_least(f"{k}.img_channels", inner.img_channels, 1)
        _int_at_least(f"{k}.cond_channels", inner.cond_channels, 1)
        if inner.cond_channels % inner.num_steps_conditioning:
            raise ConfigError(
                f"{k}.cond_channels",
                inner.cond_channels,
                f"a multiple of num_steps_conditioning ({inner.num_steps_conditioning})",
            )
        unets.append((k, inner))
    rew, ac = cfg.rew_end_model, cfg.actor_critic
    if rew is not None:
        unets.append((f"{key}.rew_end_model", rew))
        _int_at_least(f"{key}.rew_end_model.cond_channels", rew.cond_channels, 1)
    for net_key, net in unets:
        _positive_ints(f"{net_key}.channels", net.channels)
        _positive_ints(f"{net_key}.depths", net.depths)
        _positive_ints(f"{net_key}.attn_depths", net.attn_depths, allow_zero=True)
        _same_length(f"{net_key}.depths", net.depths, f"{net_key}.channels", net.channels)
        _same_length(f"{net_key}.attn_depths", net.attn_depths, f"{net_key}.channels", net.channels)
    for net_key, net in ((f"{key}.rew_end_model", rew), (f"{key}.actor_critic", ac)):
        if net is not None:
            _int_at_least(f"{net_key}.lstm_dim", net.lstm_dim, 1)
            _int_at_least(f"{net_key}.img_size", net.img_size, 1)
            _int_at_least(f"{net_key}.img_channels", net.img_channels, 1)
    if ac is not None:
        _positive_ints(f"{key}.actor_critic.channels", ac.channels)
        _positive_ints(f"{key}.actor_critic.down", ac.down, allow_zero=True)
        _same_length(f"{key}.actor_critic.down", ac.down, f"{key}.actor_critic.channels", ac.channels)
        _positive(f"{key}.actor_critic.value_scale", ac.value_scale)


def check_game(key: str, cfg: GameConfig) -> None:
    if not cfg.id:
        raise ConfigError(f"{key}.id", cfg.id, "an environment id, e.g. BreakoutNoFrameskip-v4")
    _int_at_least(f"{key}.size", cfg.size, 8)
    _optional_int_at_least(f"{key}.max_episode_steps", cfg.max_episode_steps, 1)
    _int_at_least(f"{key}.noop_max", cfg.noop_max, 0)
    _int_at_least(f"{key}.frame_skip", cfg.frame_skip, 1)


def _check_component(key: str, cfg: ComponentTrainingConfig, opt: OptimizerConfig, okey: str) -> None:
    _int_at_least(f"{key}.start_after_epochs", cfg.start_after_epochs, 0)
    _int_at_least(f"{key}.steps_first_epoch", cfg.steps_first_epoch, 0)
    _int_at_least(f"{key}.steps_per_epoch", cfg.steps_per_epoch, 0)
    check_sample_weights(f"{key}.sample_weights", cfg.sample_weights)
    _int_at_least(f"{key}.batch_size", cfg.batch_size, 1)
    _int_at_least(f"{key}.grad_acc_steps", cfg.grad_acc_steps, 1)
    _int_at_least(f"{key}.lr_warmup_steps", cfg.lr_warmup_steps, 0)
    if cfg.max_grad_norm is not None:
        _positive(f"{key}.max_grad_norm", cfg.max_grad_norm)
    _positive(f"{okey}.lr", opt.lr)
    _non_negative(f"{okey}.weight_decay", opt.weight_decay)
    _positive(f"{okey}.eps", opt.eps)


def validate_trainer_config(cfg: TrainerConfig) -> None:
    """Raise `ConfigError` for the first invalid value of a composed training configuration."""
    if cfg.wandb.mode not in WANDB_MODES:
        raise ConfigError("wandb.mode", cfg.wandb.mode, " | ".join(WANDB_MODES))
    parse_devices(cfg.common.devices)
    _optional_int_at_least("common.seed", cfg.common.seed, 0)
    _int_at_least("checkpointing.save_agent_every", cfg.checkpointing.save_agent_every, 1)
    _optional_int_at_least("checkpointing.num_to_keep", cfg.checkpointing.num_to_keep, 1)

    train, test = cfg.collection.train, cfg.collection.test
    _int_at_least("collection.train.num_envs", train.num_envs, 1)
    _probability("collection.train.epsilon", train.epsilon)
    _int_at_least("collection.train.num_steps_total", train.num_steps_total, 0)
    _int_at_least("collection.train.steps_per_epoch", train.steps_per_epoch, 0)
    first = train.first_epoch
    _int_at_least("collection.train.first_epoch.min", first.min, 0)
    if first.max is not None and first.max < first.min:
        raise ConfigError(
            "collection.train.first_epoch.max", first.max, f"null or an integer >= min ({first.min})"
        )
    _int_at_least("collection.train.first_epoch.threshold_rew", first.threshold_rew, 0)
    _int_at_least("collection.test.num_envs", test.num_envs, 1)
    _int_at_least("collection.test.num_episodes", test.num_episodes, 0)
    _probability("collection.test.epsilon", test.epsilon)
    _int_at_least("collection.test.num_final_episodes", test.num_final_episodes, 0)

    _int_at_least("training.num_final_epochs", cfg.training.num_final_epochs, 0)
    _int_at_least("training.num_workers_data_loaders", cfg.training.num_workers_data_loaders, 0)
    if cfg.training.precision not in PRECISIONS:
        raise ConfigError("training.precision", cfg.training.precision, " or ".join(PRECISIONS))
    if not isinstance(cfg.training.tf32, bool):
        raise ConfigError("training.tf32", cfg.training.tf32, "true or false")
    if not isinstance(cfg.training.cuda_graphs, bool):
        raise ConfigError("training.cuda_graphs", cfg.training.cuda_graphs, "true or false")
    if cfg.training.cuda_graphs and not (cfg.training.compile or cfg.training.compile_wm):
        raise ConfigError("training.cuda_graphs", True, "false, or true with training.compile=true")
    _int_at_least("evaluation.every", cfg.evaluation.every, 1)
    _optional_int_at_least("evaluation.max_test_batches", cfg.evaluation.max_test_batches, 1)

    den = cfg.denoiser
    _check_component("denoiser.training", den.training, den.optimizer, "denoiser.optimizer")
    _int_at_least("denoiser.training.num_autoregressive_steps", den.training.num_autoregressive_steps, 0)
    check_sigma_distribution("denoiser.sigma_distribution", den.sigma_distribution)
    rew = cfg.rew_end_model
    _check_component("rew_end_model.training", rew.training, rew.optimizer, "rew_end_model.optimizer")
    share = rew.training.rewarded_share
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share < 1:
        raise ConfigError("rew_end_model.training.rewarded_share", share, "a number in [0, 1)")
    share = rew.training.imagined_share
    if isinstance(share, bool) or not isinstance(share, (int, float)) or not 0 <= share <= 1:
        raise ConfigError("rew_end_model.training.imagined_share", share, "a number in [0, 1]")
    ac = cfg.actor_critic
    _check_component("actor_critic.training", ac.training, ac.optimizer, "actor_critic.optimizer")
    loss = ac.actor_critic_loss
    _int_at_least("actor_critic.actor_critic_loss.backup_every", loss.backup_every, 1)
    for name in ("gamma", "lambda_"):
        _probability(f"actor_critic.actor_critic_loss.{name}", getattr(loss, name))
    _non_negative("actor_critic.actor_critic_loss.weight_value_loss", loss.weight_value_loss)
    _non_negative("actor_critic.actor_critic_loss.weight_entropy_loss", loss.weight_entropy_loss)

    if cfg.env.type not in ENV_TYPES:
        raise ConfigError("env.type", cfg.env.type, " | ".join(ENV_TYPES))
    check_game("env.train", cfg.env.train)
    check_game("env.test", cfg.env.test)
    check_keymap(cfg.env.keymap, cfg.env.train.id, cfg.env.type)
    check_agent("agent", cfg.agent)
    check_trained_parts(cfg)

    wm = cfg.world_model_env
    _int_at_least("world_model_env.horizon", wm.horizon, 1)
    _int_at_least("world_model_env.num_batches_to_preload", wm.num_batches_to_preload, 1)
    check_sampler("world_model_env.diffusion_sampler", wm.diffusion_sampler)
    den, steps = cfg.agent.denoiser, wm.diffusion_sampler.num_steps_denoising
    if den is not None and den.parameterisation == "ddpm" and steps > DDPM_NUM_TRAIN_TIMESTEPS:
        raise ConfigError(
            "world_model_env.diffusion_sampler.num_steps_denoising",
            steps,
            f"at most {DDPM_NUM_TRAIN_TIMESTEPS} with a DDPM denoiser (its training timesteps)",
        )
