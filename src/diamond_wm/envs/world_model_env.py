"""`WorldModelEnv`: a batched environment whose frames, rewards and ends come from the world model.

Each environment starts from a real context of `n` frames and actions drawn from a dataset (n = the denoiser's
`num_steps_conditioning`); the reward/termination LSTM is burned in on that context. `step(act)` samples the
next frame with the diffusion sampler, draws a reward in {-1, 0, 1} and an end from the heads, truncates at the
horizon, and restarts finished environments from fresh contexts.

The CS:GO world model has no reward/termination model (rewards and ends are 0; episodes truncate at the horizon)
and a second stage: an upsampler draws the full-resolution frame from the new low-resolution one and the previous
full-resolution frame, and the environment returns full-resolution frames. Its contexts (spawn points) carry
full-resolution frames too.

Actions are those of the world model's `action_spec`: int64 indices (N,), or float multi-hot vectors (N, D).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Optional

import torch
from torch.distributions import Categorical

from diamond_wm.config.actions import ActionSpec
from diamond_wm.models.diffusion import AnySampler, DiffusionSampler
from diamond_wm.models.diffusion.upsampling import upsampler_conditioning
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.runtime.compile import uncompiled

# (num_envs, generator) -> (obs (N, n, C, H, W) float in [-1, 1], act (N, n) int64 or (N, n, D) float): real
# contexts; with an upsampler, (obs, act, full_res (N, n, C, H', W')).
InitialConditionSource = Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]


class WorldModelEnv:
    """Batched imagination: the `TorchEnv` interface backed by the denoiser and the reward/termination model.

    The caller gives the sampler that draws each next frame (`DiffusionSampler` over an EDM denoiser, `DDPMSampler`
    over a DDPM one: `models.diffusion.build_sampler` picks it), and the action spec (default: as many discrete
    actions as the denoiser embeds).

    `reset()` returns the last context frame of every environment and `info["context_obs"]`,
    `info["context_act"]` (the whole real context, for burning in a policy's LSTM). `step()` returns
    `info["final_observation"]` (N, C, H, W) holding, for the environments that ended, their last imagined
    frame, and `info["reset_mask"]` with their new context in `info["context_obs"]`/`info["context_act"]`.
    """

    def __init__(
        self,
        sampler: AnySampler,
        rew_end_model: Optional[RewEndModel],
        initial_conditions: InitialConditionSource,
        num_envs: int,
        horizon: int,
        return_denoising_trajectory: bool = False,
        action_spec: ActionSpec | None = None,
        upsampler: Optional[DiffusionSampler] = None,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.set_horizon(horizon)
        self.sampler = sampler
        self.denoiser = denoiser = sampler.denoiser
        self.rew_end_model = rew_end_model
        self.upsampler = upsampler
        self.initial_conditions = initial_conditions
        self.num_envs = num_envs
        num_dims = int(denoiser.cfg.inner_model.num_actions)
        self.action_spec = action_spec or ActionSpec.discrete(num_dims)
        if self.action_spec.num_action_dims != num_dims:
            raise ValueError(f"{self.action_spec.describe()} for a denoiser that embeds {num_dims}")
        self.num_actions = num_dims  # discrete actions; multi-hot dimensions
        self.return_denoising_trajectory = return_denoising_trajectory
        self.device = next(denoiser.parameters()).device
        self.generator = torch.Generator(device=self.device)
        self.generator.seed()
        self.obs_buffer: torch.Tensor | None = None  # (N, n, C, H, W)
        self.act_buffer: torch.Tensor | None = None  # (N, n) or (N, n, D)
        self.hx_cx: tuple[torch.Tensor, torch.Tensor] | None = None
        self.full_res: torch.Tensor | None = (
            None  # (N, C, H', W'): the last full-resolution frame (upsampler)
        )
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self.action_names = self.action_spec.labels

    def set_horizon(self, horizon: int) -> None:
        """Imagination steps before truncation (15 in training; changeable at play time)."""
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
        self.horizon = horizon

    @torch.no_grad()
    def _burn_in(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """LSTM state of the reward/termination model after the context's n - 1 real transitions."""
        n = obs.size(1)
        if self.rew_end_model is None:  # no reward/termination model: no recurrent state (empty placeholders)
            z = obs.new_zeros(1, obs.size(0), 0)
            return z, z.clone()
        if n < 2:
            lstm_dim = self.rew_end_model.lstm_dim
            z = torch.zeros(1, obs.size(0), lstm_dim, device=self.device)
            return z, z.clone()
        # Uncompiled: the number of restarting environments varies, and a compiled model would recompile for each.
        _, _, hx_cx = uncompiled(self.rew_end_model)(obs[:, :-1], act[:, :-1], obs[:, 1:])
        return hx_cx

    def _draw_contexts(self, count: int) -> tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """(obs (count, n, C, H, W), act, last full-resolution frame (count, C, H', W') or None)."""
        obs, act, *rest = self.initial_conditions(count, self.generator)
        n = self.denoiser.num_steps_conditioning
        want = tuple(self.action_spec.zeros(count, n).shape)
        if obs.shape[:2] != (count, n) or tuple(act.shape) != want:
            raise ValueError(f"initial conditions must be ({count}, {n}, C, H, W) frames and {want} actions")
        full_res = None
        if self.upsampler is not None:
            if not rest or rest[0].ndim != 5 or rest[0].shape[0] != count:
                raise ValueError(
                    "initial conditions of an upsampled world model need (N, n, C, H, W) full-res frames"
                )
            full_res = rest[0][:, -1].to(self.device, torch.float32)
        return obs.to(self.device, torch.float32), act.to(self.device, self.action_spec.dtype), full_res

    def _randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        """Standard normal draws from the environment's generator (initial noise, churn, conditioning noise)."""
        return torch.randn(shape, generator=self.generator, device=self.device)

    @torch.no_grad()
    def reset(self, seed: int | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
        """Fresh contexts for every environment -> (obs (N, C, H, W), info)."""
        if seed is not None:
            self.generator.manual_seed(seed)
        obs, act, full_res = self._draw_contexts(self.num_envs)
        self.obs_buffer, self.act_buffer, self.full_res = obs.clone(), act.clone(), full_res
        self.hx_cx = self._burn_in(obs, act)
        self.t.zero_()
        info = {"context_obs": obs, "context_act": act}
        return self._current_obs(), info

    def _current_obs(self) -> torch.Tensor:
        """What the environment shows: the last frame, at full resolution when there is an upsampler."""
        return (self.full_res if self.full_res is not None else self.obs_buffer[:, -1]).clone()

    @torch.no_grad()
    def step(
        self, act: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """One imagined step for every environment -> (obs, rew (N,), end (N,) uint8, trunc (N,) uint8, info).

        Ended environments restart from fresh contexts (`info["reset_mask"]`, `info["context_obs"]`).
        """
        if self.obs_buffer is None:
            raise RuntimeError("call reset() before step()")
        act = torch.as_tensor(act, device=self.device)
        spec = self.action_spec
        act = (
            act.reshape(self.num_envs)
            if spec.is_discrete
            else act.reshape(self.num_envs, spec.num_action_dims)
        )
        spec.validate(act)
        self.act_buffer[:, -1] = act.to(spec.dtype)
        x_init = self._randn(tuple(self.obs_buffer[:, -1].shape))
        next_obs, trajectory = self.sampler.sample(
            self.obs_buffer,
            self.act_buffer,
            x_init=x_init,
            return_trajectory=self.return_denoising_trajectory,
            randn=self._randn,
        )  # (N, C, H, W)
        info: dict[str, Any] = {}
        if self.rew_end_model is not None:
            logits_rew, logits_end, self.hx_cx = self.rew_end_model(
                self.obs_buffer[:, -1:], self.act_buffer[:, -1:], next_obs.unsqueeze(1), self.hx_cx
            )  # (N, 1, 3), (N, 1, 2)
            rew = self._draw(logits_rew[:, 0]).float() - 1.0  # classes 0, 1, 2 -> rewards -1, 0, 1
            end = self._draw(logits_end[:, 0]).to(torch.uint8)
        else:
            rew = torch.zeros(self.num_envs, device=self.device)
            end = torch.zeros(self.num_envs, dtype=torch.uint8, device=self.device)
        if self.upsampler is not None:
            info |= self._upsample(next_obs)
        self.t += 1
        trunc = ((self.t >= self.horizon) & (end == 0)).to(torch.uint8)

        self.obs_buffer = torch.cat((self.obs_buffer[:, 1:], next_obs.unsqueeze(1)), dim=1)
        padding = spec.zeros(self.num_envs, 1, device=self.device)  # overwritten by the next step's action
        self.act_buffer = torch.cat((self.act_buffer[:, 1:], padding), dim=1)
        info["final_observation"] = self._current_obs()  # a copy, never written to
        if trajectory is not None:
            info["denoising_trajectory"] = torch.stack(trajectory, dim=1)  # (N, steps + 1, C, H, W)
        done = (end | trunc).bool()
        info["reset_mask"] = done
        if done.any():
            idx = done.nonzero().squeeze(1)
            obs, ctx_act, full_res = self._draw_contexts(len(idx))
            hx, cx = self._burn_in(obs, ctx_act)
            self.obs_buffer[idx], self.act_buffer[idx] = obs, ctx_act
            if full_res is not None:
                self.full_res[idx] = full_res
            self.hx_cx[0][:, idx], self.hx_cx[1][:, idx] = hx, cx
            self.t[idx] = 0
            context_obs = torch.zeros_like(self.obs_buffer)
            context_act = torch.zeros_like(self.act_buffer)
            context_obs[idx], context_act[idx] = obs, ctx_act
            info["context_obs"], info["context_act"] = context_obs, context_act
        return self._current_obs(), rew, end, trunc, info

    def _upsample(self, low_res: torch.Tensor) -> dict[str, Any]:
        """The full-resolution frame of the new low-resolution one, from the previous full-resolution frame; updates
        `full_res` and returns what play and the tests look at."""
        up = self.upsampler
        assert up is not None and self.full_res is not None
        cond = upsampler_conditioning(self.full_res, low_res, int(up.denoiser.cfg.upsampling_factor))
        x_init = self._randn(tuple(self.full_res.shape))
        self.full_res, trajectory = up.sample(
            cond, None, x_init=x_init, return_trajectory=self.return_denoising_trajectory, randn=self._randn
        )
        info: dict[str, Any] = {"obs_low_res": low_res, "upsampler_prev_obs": cond}
        if trajectory is not None:
            info["denoising_trajectory_upsampling"] = torch.stack(trajectory, dim=1)
        return info

    def state_dict(self) -> dict[str, Any] | None:
        """Where every environment stands (frames, actions, reward/termination LSTM state, step counts); None
        before the first reset. The random generator is the caller's to save."""
        if self.obs_buffer is None or self.hx_cx is None:
            return None
        hx, cx = self.hx_cx
        return {
            "obs_buffer": self.obs_buffer.clone(),
            "act_buffer": self.act_buffer.clone(),
            "hx_cx": (hx.clone(), cx.clone()),
            "t": self.t.clone(),  # copies: stepping changes some of these in place
            **({"full_res": self.full_res.clone()} if self.full_res is not None else {}),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output."""
        self.obs_buffer = state["obs_buffer"].to(self.device)
        self.act_buffer = state["act_buffer"].to(self.device)
        self.hx_cx = (state["hx_cx"][0].to(self.device), state["hx_cx"][1].to(self.device))
        self.t = state["t"].to(self.device)
        if "full_res" in state:
            self.full_res = state["full_res"].to(self.device)

    def _draw(self, logits: torch.Tensor) -> torch.Tensor:
        probs = Categorical(logits=logits.float()).probs
        return torch.multinomial(probs, 1, generator=self.generator).squeeze(1)

    def close(self) -> None:
        """Nothing to release (for interface parity with real environments)."""
