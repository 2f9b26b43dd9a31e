"""Rollouts of the actor-critic in a batched environment (the world model in imagination, or a real env).

As the published trainer's environment loop: the environment is reset once, then every call runs `num_steps`
more steps (`actor_critic_loss.backup_every`) from where the previous call stopped; episodes that end restart
inside the environment (the world model truncates its own at its horizon), and the policy's LSTM state is
carried over, detached. The same object serves imagination and the model-free mode, with explicit state
(`state_dict()`), no generator. A compiled actor-critic computes the bootstrap values of every environment where
any ended (one batch size for its graphs), an eager one only those of the ended ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch.distributions import Categorical

from diamond_wm.models.actor_critic import ActorCritic
from diamond_wm.runtime.compile import is_compiled
from diamond_wm.training.driver import PolicyDriver


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
        self.driver = PolicyDriver(env, actor_critic)

    def state_dict(self) -> dict[str, Any]:
        """Where the rollouts stand: observations, LSTM state and the environment's own state when it can save
        it (the world model can; a real game cannot, and model-free mode starts new episodes after a resume)."""
        d = self.driver
        env_state = self.env.state_dict() if hasattr(self.env, "state_dict") and d.obs is not None else None
        if env_state is None or d.hx_cx is None:
            return {"obs": None, "hx_cx": None, "env": None}
        hx, cx = d.hx_cx
        return {"obs": d.obs.clone(), "hx_cx": (hx.clone(), cx.clone()), "env": env_state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        d = self.driver
        d.obs, d.hx_cx = None, None  # reset at the next call, unless the environment's state is restored
        if state.get("env") is None or state.get("obs") is None:
            return
        self.env.load_state_dict(state["env"])
        device = d.device
        d.obs = state["obs"].to(device)
        d.hx_cx = (state["hx_cx"][0].to(device), state["hx_cx"][1].to(device))

    def run(self) -> RolloutOutput:
        """`num_steps` more steps, with gradients through the policy and value outputs."""
        d = self.driver
        if d.obs is None:
            d.reset()
        steps: list[dict[str, Any]] = []
        for _ in range(self.num_steps):
            out = d.forward()
            act = Categorical(logits=out.logits_act.detach()).sample()
            tr = d.step(act, out.hx_cx)
            # Value of where each episode really went: the final observation for those that ended.
            final_obs = tr.info.get("final_observation", tr.next_obs).to(tr.obs.device)
            boot_obs = torch.where(tr.dead.view(-1, 1, 1, 1), final_obs, tr.next_obs.to(tr.obs.device))
            hx, cx = out.hx_cx
            steps.append(
                dict(
                    logits_act=out.logits_act,
                    val=out.val,
                    act=act,
                    rew=tr.rew,
                    end=tr.end,
                    trunc=tr.trunc,
                    boot_obs=boot_obs,
                    boot_hx_cx=(hx.detach(), cx.detach()),
                )
            )
        boot = self._bootstrap_values(steps)
        d.hx_cx = (d.hx_cx[0].detach(), d.hx_cx[1].detach())
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
        every_row = is_compiled(self.actor_critic)
        for t, s in enumerate(steps):
            done = (s["end"].bool() | s["trunc"].bool()).to(s["val"].device)
            if t + 1 < len(steps) and not done.any():
                vals.append(steps[t + 1]["val"].detach())
                continue
            rows = (
                torch.arange(done.numel(), device=done.device)
                if t + 1 == len(steps) or every_row
                else done.nonzero().squeeze(1)
            )
            v = steps[t + 1]["val"].detach().clone() if t + 1 < len(steps) else s["val"].detach().clone()
            hx, cx = s["boot_hx_cx"]
            v[rows] = self.actor_critic(s["boot_obs"][rows], (hx[rows], cx[rows])).val
            vals.append(v)
        return torch.stack(vals, dim=1)
