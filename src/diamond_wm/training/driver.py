"""`PolicyDriver`: one way to step a batched environment (real, or the world model) with a recurrent policy.

Collection, imagined rollouts, play and the bench all do the same four things: ask the policy for its output on
the current observations, choose actions from it (each its own way: sampled with a generator and epsilon,
sampled with gradients kept, or a human's), step the environment, and carry the policy's LSTM state, restarting
it where an episode ended. The driver does the first, third and fourth; the caller chooses the actions.

Where an episode ended, the LSTM state restarts from zeros, or, when the environment starts the new episode from
a context of real frames (`info["context_obs"]`, the world model's restarts), burnt in on that context's frames
before the last (the last is the new observation). A compiled policy burns in every environment's rows (those
that did not restart are dropped), so that it sees one batch size however many restart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch

from diamond_wm.models.actor_critic import ActorCritic, ActorCriticOutput
from diamond_wm.runtime.compile import is_compiled

HxCx = tuple[torch.Tensor, torch.Tensor]


@dataclass
class Transition:
    """One step of every environment. `obs` is what the policy saw; `dead` marks the episodes that ended."""

    obs: torch.Tensor  # (N, C, H, W)
    act: torch.Tensor  # (N,)
    rew: torch.Tensor  # (N,)
    end: torch.Tensor  # (N,)
    trunc: torch.Tensor  # (N,)
    next_obs: torch.Tensor  # (N, C, H, W): the next episode's first frame where one ended
    info: dict[str, Any]
    dead: torch.Tensor  # (N,) bool, on the policy's device
    hx_cx: Optional[HxCx]  # the policy's state after this step, before the restarts


class PolicyDriver:
    """Steps `env` with `policy` (an actor-critic, or None for a caller that acts without one)."""

    def __init__(self, env: Any, policy: Optional[ActorCritic]) -> None:
        self.env = env
        self.policy = policy
        self.obs: Optional[torch.Tensor] = None  # (N, C, H, W); None until `reset`
        self.hx_cx: Optional[HxCx] = None  # None: zeros

    @property
    def device(self) -> torch.device:
        p = None if self.policy is None else next(self.policy.parameters(), None)
        return p.device if p is not None else self.env.device

    def reset(
        self, seed: Optional[int] = None, contexts: Optional[tuple[torch.Tensor, ...]] = None
    ) -> dict[str, Any]:
        """Reset every environment (a world model's from `contexts` when given); the policy's state starts from the
        new episodes' contexts. Returns `info`."""
        kwargs: dict[str, Any] = {} if seed is None else {"seed": seed}
        if contexts is not None:
            kwargs["contexts"] = contexts
        obs, info = self.env.reset(**kwargs)
        self.obs = obs
        self.hx_cx = None
        if self.policy is not None and "context_obs" in info:
            self.hx_cx = self.burn_in(info["context_obs"].to(self.device))
        return info

    def forward(self) -> ActorCriticOutput:
        """The policy's output on the current observations (with gradients unless the caller disables them)."""
        assert self.policy is not None and self.obs is not None, "reset() first, with a policy"
        return self.policy(self.obs.to(self.device), self.hx_cx)

    @torch.no_grad()
    def burn_in(self, context_obs: torch.Tensor) -> HxCx:
        """The LSTM state after the context's frames before the last: context_obs (B, n, C, H, W)."""
        assert self.policy is not None
        b = context_obs.size(0)
        zeros = torch.zeros(b, self.policy.lstm_dim, device=context_obs.device)
        hx_cx: HxCx = (zeros, zeros.clone())
        for t in range(context_obs.size(1) - 1):
            hx_cx = self.policy(context_obs[:, t], hx_cx).hx_cx
        return hx_cx

    def step(
        self, act: torch.Tensor, hx_cx: Optional[HxCx] = None, stepped: Optional[tuple[Any, ...]] = None
    ) -> Transition:
        """Step the environments with `act`; `hx_cx` is the policy state after acting (from `forward()`). The
        state of the environments whose episode ended restarts (see the module docstring). `stepped`: what
        `env.step(act)` returned, when the caller stepped the environment itself (batched with others)."""
        assert self.obs is not None, "reset() first"
        obs = self.obs
        if stepped is None:
            stepped = self.env.step(act.to(self.env.device))
        next_obs, rew, end, trunc, info = stepped
        dead = (end.bool() | trunc.bool()).to(self.device)
        self.hx_cx = hx_cx
        if hx_cx is not None and bool(dead.any()):
            self.hx_cx = self._restart(hx_cx, dead, info)
        self.obs = next_obs
        return Transition(obs, act, rew, end, trunc, next_obs, info, dead, hx_cx)

    def _restart(self, hx_cx: HxCx, dead: torch.Tensor, info: dict[str, Any]) -> HxCx:
        hx, cx = hx_cx
        rows = dead.nonzero().squeeze(1)
        context = info.get("context_obs")
        if context is not None and self.policy is not None and is_compiled(self.policy):
            fresh_hx, fresh_cx = (x[rows] for x in self.burn_in(context.to(self.device)))
        elif context is not None and self.policy is not None:
            fresh_hx, fresh_cx = self.burn_in(context.to(self.device)[rows])
        else:
            fresh_hx, fresh_cx = torch.zeros_like(hx[rows]), torch.zeros_like(cx[rows])
        hx, cx = hx.clone(), cx.clone()  # the caller's tensors (kept for bootstrapping) stay as they were
        hx[rows], cx[rows] = fresh_hx.to(hx.dtype), fresh_cx.to(cx.dtype)
        return hx, cx
