"""A run folder as the published DIAMOND code leaves it, in small, written without diamond-wm's writers.

```
config/trainer.yaml                      Hydra's unresolved composition: the published config/trainer.yaml (no
                                         `defaults`, no `hydra`) with `env:` and `agent:` composed in; `_target_`
                                         keys, `${eval:...}` values, interpolations
checkpoints/agent_versions/agent_epoch_00005.pt, agent_epoch_00010.pt    bare agent state_dicts (plain torch.save)
checkpoints/state.pt                     pickles numpy objects: only a full unpickler reads it
dataset/train/info.pt + episodes         the published Dataset.state_dict (numpy arrays, Counters)
dataset/test/ episodes only              no info.pt
scripts/resume.sh, .run_is_over          the run is over
```

The agent has the sizes of the packaged `tiny` preset (so that a loose copy of its checkpoints is recognised);
the frames are real Breakout frames, 64x64, from Gymnasium's ALE with random actions.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

PUBLISHED_CONFIG = """\
wandb:
  mode: disabled
  project: null
  entity: null
  name: null
  group: null
  tags: null
  notes: null
initialization:
  path_to_ckpt: null
  load_denoiser: true
  load_rew_end_model: true
  load_actor_critic: true
common:
  devices: 0
  seed: null
  resume: false
checkpointing:
  save_agent_every: 5
  num_to_keep: 11
collection:
  train:
    num_envs: 1
    epsilon: 0.01
    num_steps_total: 100000
    first_epoch:
      min: 5000
      max: 10000
      threshold_rew: 10
    steps_per_epoch: 100
  test:
    num_envs: 1
    num_episodes: 4
    epsilon: 0.0
    num_final_episodes: 100
static_dataset:
  path: null
  ignore_sample_weights: true
training:
  should: true
  num_final_epochs: 50
  cache_in_ram: true
  num_workers_data_loaders: 0
  model_free: false
  compile_wm: true
evaluation:
  should: true
  every: 10
world_model_env:
  _target_: envs.WorldModelEnvConfig
  horizon: 15
  num_batches_to_preload: 256
  diffusion_sampler:
    _target_: models.diffusion.DiffusionSamplerConfig
    num_steps_denoising: 3
    sigma_min: 2e-3
    sigma_max: 5.0
    rho: 7
    order: 1
    s_churn: 0.0
    s_tmin: 0.0
    s_tmax: ${eval:'float("inf")'}
    s_noise: 1.0
denoiser:
  training:
    num_autoregressive_steps: 1
    start_after_epochs: 0
    steps_first_epoch: 10000
    steps_per_epoch: 400
    sample_weights:
    - 0.1
    - 0.1
    - 0.1
    - 0.7
    batch_size: 32
    grad_acc_steps: 1
    lr_warmup_steps: 100
    max_grad_norm: 1.0
  optimizer:
    lr: 1e-4
    weight_decay: 1e-2
    eps: 1e-8
  sigma_distribution:
    _target_: models.diffusion.SigmaDistributionConfig
    loc: -0.4
    scale: 1.2
    sigma_min: 2e-3
    sigma_max: 20
rew_end_model:
  training:
    seq_length: ${eval:'${world_model_env.horizon} + ${agent.denoiser.inner_model.num_steps_conditioning}'}
    start_after_epochs: 0
    steps_first_epoch: 10000
    steps_per_epoch: 400
    sample_weights: ${denoiser.training.sample_weights}
    batch_size: 32
    grad_acc_steps: 1
    lr_warmup_steps: 100
    max_grad_norm: 100.0
  optimizer:
    lr: 1e-4
    weight_decay: 1e-2
    eps: 1e-8
actor_critic:
  training:
    sample_weights: ${denoiser.training.sample_weights}
    batch_size: 32
    grad_acc_steps: 1
    start_after_epochs: 0
    steps_first_epoch: 5000
    steps_per_epoch: 400
    lr_warmup_steps: 100
    max_grad_norm: 100.0
  actor_critic_loss:
    _target_: models.actor_critic.ActorCriticLossConfig
    backup_every: 15
    gamma: 0.985
    lambda_: 0.95
    weight_value_loss: 1.0
    weight_entropy_loss: 0.001
  optimizer:
    lr: 1e-4
    weight_decay: 0
    eps: 1e-8
env:
  train:
    id: {env_id}
    done_on_life_loss: true
    size: 64
    max_episode_steps: null
  test:
    id: ${..train.id}
    done_on_life_loss: false
    size: ${..train.size}
    max_episode_steps: {test_max_steps}
  keymap: atari/${.train.id}
agent:
  _target_: agent.AgentConfig
  denoiser:
    _target_: models.diffusion.DenoiserConfig
    sigma_data: 0.5
    sigma_offset_noise: 0.3
    inner_model:
      _target_: models.diffusion.InnerModelConfig
      img_channels: 3
      num_steps_conditioning: 4
      cond_channels: 16
      depths:
      - 1
      - 1
      channels:
      - 8
      - 8
      attn_depths:
      - 0
      - 0
      num_actions: null
  rew_end_model:
    _target_: models.rew_end_model.RewEndModelConfig
    lstm_dim: 16
    img_channels: ${agent.denoiser.inner_model.img_channels}
    img_size: ${env.train.size}
    cond_channels: 8
    depths:
    - 1
    - 1
    channels:
    - 8
    - 8
    attn_depths:
    - 0
    - 0
    num_actions: null
  actor_critic:
    _target_: models.actor_critic.ActorCriticConfig
    lstm_dim: 16
    img_channels: ${agent.denoiser.inner_model.img_channels}
    img_size: ${env.train.size}
    channels:
    - 4
    - 4
    - 8
    - 8
    down:
    - 1
    - 1
    - 1
    - 1
    num_actions: null
  num_actions: null
"""

# The same networks as diamond-wm overrides (for `diamond train ... initialization.path_to_ckpt=RUN`).
TINY_AGENT_OVERRIDES = ("agent=tiny",)

TRAIN_LENGTHS = (30, 25, 40)
TEST_LENGTHS = (20, 24)


@dataclass(frozen=True)
class PublishedRun:
    root: Path
    env_id: str
    num_actions: int

    @property
    def newest_agent(self) -> Path:
        return self.root / "checkpoints" / "agent_versions" / "agent_epoch_00010.pt"


def _config_text(env_id: str, test_max_steps: int | None) -> str:
    steps = "null" if test_max_steps is None else str(test_max_steps)
    return PUBLISHED_CONFIG.replace("{env_id}", env_id).replace("{test_max_steps}", steps)


def _breakout_frames(num: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(num + 1, 3, 64, 64) uint8 frames, num actions, num rewards of Breakout played at random."""
    import ale_py
    import gymnasium as gym
    from gymnasium.wrappers import AtariPreprocessing

    gym.register_envs(ale_py)
    env = gym.make("BreakoutNoFrameskip-v4", repeat_action_probability=0.0, full_action_space=False)
    env = AtariPreprocessing(env, noop_max=0, frame_skip=4, screen_size=64, grayscale_obs=False)
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    frames, acts, rews = [obs], [], []
    for _ in range(num):
        a = int(rng.integers(4))
        obs, r, term, trunc, _ = env.step(a)
        frames.append(obs)
        acts.append(a)
        rews.append(float(r))
        if term or trunc:
            obs, _ = env.reset()
    env.close()
    return np.stack(frames).transpose(0, 3, 1, 2).copy(), np.array(acts), np.array(rews, dtype=np.float32)


def _episode_path(root: Path, i: int) -> Path:
    return root / f"{i // 100 * 100 % 1000:03d}" / f"{i % 100 // 10 * 10:02d}" / f"{i % 10}" / f"{i}.pt"


def _write_dataset(root: Path, lengths: tuple[int, ...], seed: int, with_index: bool) -> None:
    frames, acts, rews = _breakout_frames(sum(lengths), seed)
    start = 0
    counter_rew: Counter = Counter()
    counter_end: Counter = Counter()
    for i, n in enumerate(lengths):
        end = torch.zeros(n, dtype=torch.uint8)
        trunc = torch.zeros(n, dtype=torch.uint8)
        info = {}
        if i == len(lengths) - 1:
            end[-1] = 1  # the published code keeps the next frame of an ended episode, float in [-1, 1]
            info["final_observation"] = torch.from_numpy(frames[start + n]).float().div(255).mul(2).sub(1)
        else:
            trunc[-1] = 1
        episode = {
            "obs": torch.from_numpy(frames[start : start + n]),
            "act": torch.from_numpy(acts[start : start + n]).long(),
            "rew": torch.from_numpy(rews[start : start + n]),
            "end": end,
            "trunc": trunc,
            "info": info,
        }
        path = _episode_path(root, i)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(episode, path)
        counter_rew.update(episode["rew"].sign().tolist())
        counter_end.update(end.tolist())
        start += n
    if with_index:
        lens = np.array(lengths, dtype=np.int64)
        torch.save(
            {
                "is_static": False,
                "num_episodes": len(lengths),
                "num_steps": int(lens.sum()),
                "start_idx": np.concatenate(([0], np.cumsum(lens)[:-1])).astype(np.int64),
                "lengths": lens,
                "counter_rew": counter_rew,
                "counter_end": counter_end,
            },
            root / "info.pt",
        )


# How the published ddpm branch's run config differs from the main branch's (its config/trainer.yaml and
# config/agent/default.yaml): (main branch text, ddpm branch text).
DDPM_BRANCH_CHANGES = (
    ("common:\n  devices: 0\n", "common:\n  device: cuda:0\n"),
    ("collection:\n  train:\n", "collection:\n  path_to_static_dataset: null\n  train:\n"),
    ("static_dataset:\n  path: null\n  ignore_sample_weights: true\n", ""),
    (
        "  diffusion_sampler:\n    _target_: models.diffusion.DiffusionSamplerConfig\n    num_steps_denoising: 3\n"
        "    sigma_min: 2e-3\n    sigma_max: 5.0\n    rho: 7\n    order: 1\n    s_churn: 0.0\n    s_tmin: 0.0\n"
        "    s_tmax: ${eval:'float(\"inf\")'}\n    s_noise: 1.0\n",
        "  ddpm_sampler:\n    _target_: models.diffusion.DDPMSamplerConfig\n    num_steps_denoising: 2\n",
    ),
    ("    num_autoregressive_steps: 1\n", ""),
    (
        "  sigma_distribution:\n    _target_: models.diffusion.SigmaDistributionConfig\n    loc: -0.4\n"
        "    scale: 1.2\n    sigma_min: 2e-3\n    sigma_max: 20\n",
        "",
    ),
    (
        "    _target_: models.diffusion.DenoiserConfig\n    sigma_data: 0.5\n    sigma_offset_noise: 0.3\n",
        "    _target_: models.diffusion.DDPMDenoiserConfig\n    sigma_offset_noise: 0.3\n"
        "    num_train_timesteps: 1000\n",
    ),
)


def ddpm_branch_config(text: str) -> str:
    """A main-branch run config (`PUBLISHED_CONFIG`'s form) as the ddpm branch writes it."""
    for main, ddpm in DDPM_BRANCH_CHANGES:
        assert text.count(main) == 1, main
        text = text.replace(main, ddpm)
    return text


def tiny_agent_state_dict(num_actions: int, seed: int = 0, ddpm: bool = False) -> dict[str, torch.Tensor]:
    """The weights of an agent of the `tiny` preset's sizes (64x64 frames), published layout; `ddpm`: with the
    ddpm branch's denoiser (`denoiser.noise_model.*`)."""
    from diamond_wm.config.published import read_yaml_raw
    from diamond_wm.loading.agent_config import agent_yaml_config, preset_path
    from diamond_wm.models.agent import Agent

    torch.manual_seed(seed)
    cfg = agent_yaml_config(read_yaml_raw(preset_path("tiny")), "tiny", img_size=64)
    if ddpm:
        cfg.denoiser.parameterisation = "ddpm"
    return {k: v.clone() for k, v in Agent(cfg, num_actions).state_dict().items()}


def make_published_run(
    root: Path,
    env_id: str = "BreakoutNoFrameskip-v4",
    num_actions: int = 4,
    test_max_steps: int | None = 60,
    ddpm: bool = False,
) -> PublishedRun:
    """Write the run folder (see the module docstring) at `root`; `ddpm`: a run of the published ddpm branch (its
    config's keys, `DDPM_BRANCH_CHANGES`, and its denoiser's weights)."""
    (root / "config").mkdir(parents=True)
    text = _config_text(env_id, test_max_steps)
    (root / "config" / "trainer.yaml").write_text(ddpm_branch_config(text) if ddpm else text)
    versions = root / "checkpoints" / "agent_versions"
    versions.mkdir(parents=True)
    for epoch, seed in ((5, 0), (10, 1)):
        torch.save(tiny_agent_state_dict(num_actions, seed, ddpm), versions / f"agent_epoch_{epoch:05d}.pt")
    state = {
        "epoch": 10,
        "num_epochs_collect": np.int64(5),
        "agent": tiny_agent_state_dict(num_actions, 1, ddpm),
        "rng": np.random.default_rng(0).integers(0, 2**31, size=8),
    }
    torch.save(state, root / "checkpoints" / "state.pt")
    _write_dataset(root / "dataset" / "train", TRAIN_LENGTHS, seed=0, with_index=True)
    _write_dataset(root / "dataset" / "test", TEST_LENGTHS, seed=1, with_index=False)
    (root / "scripts").mkdir()
    (root / "scripts" / "resume.sh").write_text("#!/bin/bash\npython src/main.py common.resume=True\n")
    (root / ".run_is_over").touch()
    return PublishedRun(root, env_id, num_actions)


def snapshot(root: Path) -> dict[str, tuple]:
    """Every file and folder under `root` (itself included): kind, mode, mtime and, for files, a SHA-256."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in ["", *dirnames, *filenames]:
            p = Path(dirpath) / name
            st = p.lstat()
            digest = hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
            out[str(p.relative_to(root))] = (st.st_mode, st.st_mtime_ns, digest)
    return out
