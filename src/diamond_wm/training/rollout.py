"""Rollouts of the actor-critic in a batched environment (the world model in imagination, or a real env).

As the published trainer's environment loop: the environment is reset once, then every call runs `num_steps`
more steps (`actor_critic_loss.backup_every`) from where the previous call stopped; episodes that end restart
inside the environment (the world model truncates its own at its horizon), and the policy's LSTM state is
carried over, detached. The same object serves imagination and the model-free mode, with explicit state
(`state_dict()`), no generator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.distributions import Categorical

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
    """Drives `actor_critic` in `env` for `num_steps` steps at a time, continuing between calls."""

    def __init__(self, env: Any, actor_critic: ActorCritic, num_steps: int) -> None:
        if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 1:
            raise ValueError(f"num_steps must be an integer >= 1, got {num_steps!r}")
        self.env = env
        self.actor_critic = actor_critic
        self.num_steps = num_steps
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
        """Where the rollouts stand: observations, LSTM state and the environment's own state when it can save
        it (the world model can; a real game cannot, and model-free mode starts new episodes after a resume)."""
        env_state = (
            self.env.state_dict() if hasattr(self.env, "state_dict") and self.obs is not None else None
        )
        if env_state is None:
            return {"obs": None, "hx_cx": None, "env": None}
        hx, cx = self.hx_cx
        return {"obs": self.obs.clone(), "hx_cx": (hx.clone(), cx.clone()), "env": env_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.obs, self.hx_cx = (
            None,
            None,
        )  # reset at the next call, unless the environment's state is restored
        if state.get("env") is None or state.get("obs") is None:
            return
        self.env.load_state_dict(state["env"])
        device = self.env.device
        self.obs = state["obs"].to(device)
        self.hx_cx = (state["hx_cx"][0].to(device), state["hx_cx"][1].to(device))

    def reset(self) -> None:
        obs, info = self.env.reset()
        self.obs = obs
        self.hx_cx = self._start_state(info, obs.size(0), obs.device)

    def run(self) -> RolloutOutput:
        """`num_steps` more steps, with gradients through the policy and value outputs."""
        if self.obs is None:
            self.reset()
        obs, hx_cx = self.obs, self.hx_cx
        steps: list[dict[str, torch.Tensor]] = []
        for _ in range(self.num_steps):
            out = self.actor_critic(obs, hx_cx)
            act = Categorical(logits=out.logits_act.detach()).sample()
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
