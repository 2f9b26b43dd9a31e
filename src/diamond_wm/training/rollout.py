"""Rollouts of the actor-critic in a batched environment (the world model in imagination, or a real env).

The same object serves training in imagination and the model-free mode: it keeps the environment's current
observations and the policy's LSTM state between calls (explicit state, no generator).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.distributions import Categorical

from diamond_wm.envs.world_model_env import WorldModelEnv
from diamond_wm.models.actor_critic import ActorCritic


@dataclass
class RolloutOutput:
    """T steps of N environments. Tensors are (N, T, ...); `logits_act` and `val` carry gradients."""

    logits_act: torch.Tensor  # (N, T, A)
    val: torch.Tensor  # (N, T)
    act: torch.Tensor  # (N, T)
    rew: torch.Tensor  # (N, T)
    end: torch.Tensor  # (N, T)
    trunc: torch.Tensor  # (N, T)
    val_bootstrap: (
        torch.Tensor
    )  # (N, T): value of the next observation (the final one where an episode ended)


class ActorCriticRollout:
    """Drives `actor_critic` in `env` for `horizon` steps at a time."""

    def __init__(self, env: Any, actor_critic: ActorCritic, horizon: int, reset_every_rollout: bool) -> None:
        self.env = env
        self.actor_critic = actor_critic
        self.horizon = horizon
        self.reset_every_rollout = reset_every_rollout
        self.obs: torch.Tensor | None = None
        self.hx_cx: tuple[torch.Tensor, torch.Tensor] | None = None

    def _zero_state(self, n: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        z = torch.zeros(n, self.actor_critic.lstm_dim, device=device)
        return z, z.clone()

    @torch.no_grad()
    def _burn_in(self, context_obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Policy LSTM state after the context frames before the last one (the last is the first input)."""
        hx_cx = self._zero_state(context_obs.size(0), context_obs.device)
        for t in range(context_obs.size(1) - 1):
            hx_cx = self.actor_critic(context_obs[:, t], hx_cx).hx_cx
        return hx_cx

    def _start_state(
        self, info: dict[str, Any], n: int, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if "context_obs" in info:
            return self._burn_in(info["context_obs"])
        return self._zero_state(n, device)

    def state_dict(self) -> dict[str, Any]:
        """Nothing survives a resume: imagined rollouts restart every time, and a real environment cannot be
        saved (model-free mode starts new episodes after a resume)."""
        return {"reset_every_rollout": self.reset_every_rollout}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.obs, self.hx_cx = None, None

    def reset(self) -> None:
        obs, info = self.env.reset()
        self.obs = obs
        self.hx_cx = self._start_state(info, obs.size(0), obs.device)

    def run(self) -> RolloutOutput:
        """One rollout of `horizon` steps, with gradients through the policy and value outputs."""
        if self.obs is None or self.reset_every_rollout:
            self.reset()
        obs, hx_cx = self.obs, self.hx_cx
        steps: list[dict[str, torch.Tensor]] = []
        for t in range(self.horizon):
            out = self.actor_critic(obs, hx_cx)
            act = Categorical(logits=out.logits_act.detach()).sample()
            if t == self.horizon - 1 and self.reset_every_rollout and isinstance(self.env, WorldModelEnv):
                # The next rollout resets every environment: restarting the ones that end now is wasted work.
                next_obs, rew, end, trunc, info = self.env.step(act, autoreset=False)
            else:
                next_obs, rew, end, trunc, info = self.env.step(act)
            done = (end.bool() | trunc.bool()).to(obs.device)
            hx_cx = out.hx_cx
            # Value of where each episode really went: the final observation for those that ended.
            final_obs = info.get("final_observation", next_obs)
            boot_obs = torch.where(done.view(-1, 1, 1, 1), final_obs.to(obs.device), next_obs)
            steps.append(dict(logits_act=out.logits_act, val=out.val, act=act, rew=rew, end=end, trunc=trunc))
            steps[-1]["boot_obs"], steps[-1]["boot_hx_cx"] = boot_obs, (hx_cx[0].detach(), hx_cx[1].detach())
            if done.any():
                fresh = self._start_state(info, obs.size(0), obs.device)
                mask = done.view(-1, 1)
                hx_cx = (torch.where(mask, fresh[0], hx_cx[0]), torch.where(mask, fresh[1], hx_cx[1]))
            obs = next_obs
        boot = self._bootstrap_values(steps)
        self.obs, self.hx_cx = obs, (hx_cx[0].detach(), hx_cx[1].detach())
        stack = lambda k: torch.stack([s[k] for s in steps], dim=1)  # noqa: E731
        return RolloutOutput(
            logits_act=stack("logits_act"),
            val=stack("val"),
            act=stack("act"),
            rew=stack("rew").float(),
            end=stack("end").long(),
            trunc=stack("trunc").long(),
            val_bootstrap=boot,
        )

    @torch.no_grad()
    def _bootstrap_values(self, steps: list[dict[str, Any]]) -> torch.Tensor:
        """(N, T) values of the next observations. Where the episode went on, the next step's forward pass already
        computed it; only ended episodes and the last step need another pass."""
        vals = []
        for t, s in enumerate(steps):
            done = (s["end"].bool() | s["trunc"].bool()).to(s["val"].device)
            if t + 1 < len(steps) and not done.any():
                vals.append(steps[t + 1]["val"].detach())
                continue
            rows = (
                torch.arange(done.numel(), device=done.device)
                if t + 1 == len(steps)
                else done.nonzero().squeeze(1)
            )
            v = steps[t + 1]["val"].detach().clone() if t + 1 < len(steps) else s["val"].detach().clone()
            hx, cx = s["boot_hx_cx"]
            v[rows] = self.actor_critic(s["boot_obs"][rows], (hx[rows], cx[rows])).val
            vals.append(v)
        return torch.stack(vals, dim=1)
