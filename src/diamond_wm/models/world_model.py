"""`WorldModel`: the diffusion world model as one object, and `WorldState`, where a batch of imagined environments
stands.

A world model owns its parts (the next-frame sampler over the denoiser, whichever its parameterisation; the
optional upsampler of a two-stage model; the optional reward/termination model), its action spec and its seed.
It steps any set of independent environments as one batch: each environment is one row of a `WorldState`, with
its own frames, actions, recurrent state and random generator. Rows join (`WorldState.cat`) and leave
(`WorldState.select`) between steps, and a row's frames do not depend on which other rows share its batch: every
random draw of a row (initial noise, churn, conditioning noise, reward and end) comes from that row's generator,
seeded from the world model's seed and the row's own seed (`WorldModel.generator`).

Where contexts come from (dataset segments, spawn points, a real environment's burn-in) is the caller's choice:
`start` takes the contexts themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np
import torch
from torch.distributions import Categorical

from diamond_wm.config.actions import ActionSpec
from diamond_wm.models.diffusion.upsampling import upsampler_conditioning
from diamond_wm.models.rew_end_model import RewEndModel
from diamond_wm.runtime.compile import uncompiled


def mix_seeds(*seeds: int) -> int:
    """One 63-bit seed from several integers (NumPy's SeedSequence: nearby inputs give unrelated outputs)."""
    words = np.random.SeedSequence([int(s) % 2**63 for s in seeds]).generate_state(2, np.uint32)
    return (int(words[0]) << 31 | int(words[1]) >> 1) % 2**63


@dataclass
class WorldState:
    """Imagined environments, one row each: the last n frames `obs` (B, n, C, H, W) in [-1, 1], the actions on
    them `act` (B, n) int64 or (B, n, D) float (the last is overwritten by the next step's), the
    reward/termination LSTM state `hx`, `cx` (1, B, L) (L = 0 without that model), the last full-resolution frame
    `full_res` (B, C, H', W') of a model with an upsampler, and each row's generator."""

    obs: torch.Tensor
    act: torch.Tensor
    hx: torch.Tensor
    cx: torch.Tensor
    full_res: Optional[torch.Tensor]
    generators: list[torch.Generator] = field(default_factory=list)

    @property
    def batch_size(self) -> int:
        return self.obs.shape[0]

    def frame(self) -> torch.Tensor:
        """What each row shows (B, C, H, W): the last frame, at full resolution when there is an upsampler."""
        return (self.full_res if self.full_res is not None else self.obs[:, -1]).clone()

    def select(self, rows: Sequence[int]) -> WorldState:
        """The given rows, in that order (their generators are shared, not copied)."""
        idx = torch.as_tensor(list(rows), dtype=torch.long, device=self.obs.device)
        full = self.full_res[idx] if self.full_res is not None else None
        gens = [self.generators[i] for i in idx.tolist()]
        return WorldState(self.obs[idx], self.act[idx], self.hx[:, idx], self.cx[:, idx], full, gens)

    @staticmethod
    def cat(states: Sequence[WorldState]) -> WorldState:
        """The rows of every state, in order."""
        if not states:
            raise ValueError("WorldState.cat needs at least one state")
        fulls = [s.full_res for s in states]
        full = torch.cat(fulls) if all(f is not None for f in fulls) else None
        if full is None and any(f is not None for f in fulls):
            raise ValueError("cannot batch states with and without full-resolution frames")
        return WorldState(
            torch.cat([s.obs for s in states]),
            torch.cat([s.act for s in states]),
            torch.cat([s.hx for s in states], dim=1),
            torch.cat([s.cx for s in states], dim=1),
            full,
            [g for s in states for g in s.generators],
        )

    def assign(self, rows: Sequence[int], other: WorldState) -> None:
        """Replace the given rows with `other`'s rows (in place; `other` has len(rows) rows)."""
        idx = torch.as_tensor(list(rows), dtype=torch.long, device=self.obs.device)
        self.obs[idx], self.act[idx] = other.obs, other.act
        self.hx[:, idx], self.cx[:, idx] = other.hx, other.cx
        if self.full_res is not None and other.full_res is not None:
            self.full_res[idx] = other.full_res
        for i, g in zip(idx.tolist(), other.generators, strict=True):
            self.generators[i] = g

    def state_dict(self) -> dict[str, Any]:
        """Copies of the tensors and the generators' states (`torch.load(weights_only=True)` reads them)."""
        out = {
            "obs_buffer": self.obs.clone(),
            "act_buffer": self.act.clone(),
            "hx_cx": (self.hx.clone(), self.cx.clone()),
            "generators": [g.get_state() for g in self.generators],
        }
        if self.full_res is not None:
            out["full_res"] = self.full_res.clone()
        return out

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output (the generators keep their state when it holds none)."""
        device = self.obs.device
        self.obs = state["obs_buffer"].to(device)
        self.act = state["act_buffer"].to(device)
        self.hx, self.cx = (t.to(device) for t in state["hx_cx"])
        if "full_res" in state:
            self.full_res = state["full_res"].to(device)
        for g, s in zip(self.generators, state.get("generators") or [], strict=False):
            g.set_state(s)


@dataclass
class Imagined:
    """One imagined step of every row: the next frame `obs` (B, C, H, W) (full resolution with an upsampler),
    `rew` (B,) in {-1, 0, 1} and `end` (B,) uint8 (zeros without a reward/termination model), and `info`
    (`obs_low_res`, `upsampler_prev_obs`, denoising trajectories when asked for)."""

    obs: torch.Tensor
    rew: torch.Tensor
    end: torch.Tensor
    info: dict[str, Any]


class RowDraws:
    """Standard normal draws and categorical samples, each row from its own generator (one generator: one call)."""

    def __init__(self, generators: Sequence[torch.Generator], device: torch.device) -> None:
        self.generators = list(generators)
        self.device = device

    def randn(self, shape: tuple[int, ...]) -> torch.Tensor:
        if len(self.generators) == 1:
            return torch.randn(shape, generator=self.generators[0], device=self.device)
        if shape[0] != len(self.generators):
            raise ValueError(f"a draw of shape {shape} for {len(self.generators)} rows")
        return torch.stack([torch.randn(shape[1:], generator=g, device=self.device) for g in self.generators])

    def categorical(self, logits: torch.Tensor) -> torch.Tensor:
        """One class per row of logits (B, K): (B,) int64."""
        probs = Categorical(logits=logits.float()).probs
        if len(self.generators) == 1:
            return torch.multinomial(probs, 1, generator=self.generators[0]).squeeze(1)
        rows = [torch.multinomial(p, 1, generator=g) for p, g in zip(probs, self.generators, strict=True)]
        return torch.cat(rows)


class WorldModel:
    """The world model (see the module docstring).

    Args:
        sampler: the next-frame sampler over the denoiser (`denoiser.build_sampler(cfg)`: EDM's or DDPM's).
        rew_end_model: the reward/termination model, or None (rewards and ends are 0).
        upsampler: the upsampler's sampler of a two-stage model (CS:GO), or None.
        action_spec: the actions it takes (default: as many discrete actions as the denoiser embeds).
        seed: the world model's seed; each row's generator mixes it with the row's own seed.
    """

    def __init__(
        self,
        sampler: Any,
        rew_end_model: Optional[RewEndModel] = None,
        upsampler: Any = None,
        action_spec: Optional[ActionSpec] = None,
        seed: int = 0,
    ) -> None:
        self.sampler = sampler
        self.denoiser = denoiser = sampler.denoiser
        self.rew_end_model = rew_end_model
        self.upsampler = upsampler
        num_dims = int(denoiser.cfg.inner_model.num_actions)
        self.action_spec = action_spec or ActionSpec.discrete(num_dims)
        if self.action_spec.num_action_dims != num_dims:
            raise ValueError(f"{self.action_spec.describe()} for a denoiser that embeds {num_dims}")
        self.seed = int(seed)
        self.device = next(denoiser.parameters()).device

    @property
    def num_steps_conditioning(self) -> int:
        return self.denoiser.num_steps_conditioning

    def batch_key(self) -> tuple[Any, ...]:
        """World models with equal keys compute the same thing (same networks, same sampler settings): their rows
        can share a batch, whatever their seeds."""
        up = self.upsampler
        return (
            id(self.denoiser),
            id(self.rew_end_model),
            id(up.denoiser) if up is not None else None,
            repr(self.sampler.cfg),
            repr(up.cfg) if up is not None else None,
            repr(self.action_spec),
        )

    def generator(self, row_seed: int) -> torch.Generator:
        """A fresh generator for a row (an environment slot, a player) with its own seed."""
        return torch.Generator(device=self.device).manual_seed(mix_seeds(self.seed, row_seed))

    def check_contexts(self, count: int, contexts: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """(obs (count, n, C, H, W), act, full_res (count, C, H', W') or None) on the device, or a ValueError
        saying what shapes a context needs."""
        obs, act, *rest = contexts
        n = self.num_steps_conditioning
        want = tuple(self.action_spec.zeros(count, n).shape)
        if obs.ndim != 5 or obs.shape[:2] != (count, n) or tuple(act.shape) != want:
            raise ValueError(
                f"contexts must be ({count}, {n}, C, H, W) frames and {want} actions, got "
                f"{tuple(obs.shape)} and {tuple(act.shape)}"
            )
        full_res = None
        if self.upsampler is not None:
            if not rest or rest[0].ndim != 5 or rest[0].shape[0] != count:
                raise ValueError("contexts of an upsampled world model need (N, n, C, H, W) full-res frames")
            full_res = rest[0][:, -1].to(self.device, torch.float32)
        return obs.to(self.device, torch.float32), act.to(self.device, self.action_spec.dtype), full_res

    @torch.no_grad()
    def start(self, contexts: Sequence[torch.Tensor], generators: Sequence[torch.Generator]) -> WorldState:
        """Rows starting from real contexts (obs, act[, full_res]), one generator each; the reward/termination
        LSTM is burned in on each context's n - 1 real transitions."""
        obs, act, full_res = self.check_contexts(len(generators), contexts)
        hx, cx = self._burn_in(obs, act)
        return WorldState(obs.clone(), act.clone(), hx, cx, full_res, list(generators))

    def _burn_in(self, obs: torch.Tensor, act: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, n = obs.shape[:2]
        if self.rew_end_model is None:  # no recurrent state: empty placeholders
            z = obs.new_zeros(1, b, 0)
            return z, z.clone()
        if n < 2:
            z = torch.zeros(1, b, self.rew_end_model.lstm_dim, device=self.device)
            return z, z.clone()
        # Uncompiled: the number of starting rows varies, and a compiled model would recompile for each.
        _, _, (hx, cx) = uncompiled(self.rew_end_model)(obs[:, :-1], act[:, :-1], obs[:, 1:])
        return hx, cx

    @torch.no_grad()
    def step(
        self,
        state: WorldState,
        act: torch.Tensor,
        return_trajectory: bool = False,
        draws: Optional[RowDraws] = None,
    ) -> Imagined:
        """One imagined step of every row of `state` (updated in place) taking actions `act` (B,) or (B, D).
        `draws`: where the random draws come from (default: each row's generator; a test serves recorded ones)."""
        spec, b = self.action_spec, state.batch_size
        act = torch.as_tensor(act, device=self.device)
        act = act.reshape(b) if spec.is_discrete else act.reshape(b, spec.num_action_dims)
        spec.validate(act)
        state.act[:, -1] = act.to(spec.dtype)
        draws = draws or RowDraws(state.generators, self.device)
        x_init = draws.randn(tuple(state.obs[:, -1].shape))
        next_obs, trajectory = self.sampler.sample(
            state.obs, state.act, x_init=x_init, return_trajectory=return_trajectory, randn=draws.randn
        )  # (B, C, H, W)
        info: dict[str, Any] = {}
        if self.rew_end_model is not None:
            logits_rew, logits_end, (state.hx, state.cx) = self.rew_end_model(
                state.obs[:, -1:], state.act[:, -1:], next_obs.unsqueeze(1), (state.hx, state.cx)
            )  # (B, 1, 3), (B, 1, 2)
            rew = draws.categorical(logits_rew[:, 0]).float() - 1.0  # classes 0, 1, 2 -> rewards -1, 0, 1
            end = draws.categorical(logits_end[:, 0]).to(torch.uint8)
        else:
            rew = torch.zeros(b, device=self.device)
            end = torch.zeros(b, dtype=torch.uint8, device=self.device)
        if self.upsampler is not None:
            info |= self._upsample(state, next_obs, draws, return_trajectory)
        if trajectory is not None:
            info["denoising_trajectory"] = torch.stack(trajectory, dim=1)  # (B, steps + 1, C, H, W)
        state.obs = torch.cat((state.obs[:, 1:], next_obs.unsqueeze(1)), dim=1)
        padding = spec.zeros(b, 1, device=self.device)  # overwritten by the next step's action
        state.act = torch.cat((state.act[:, 1:], padding), dim=1)
        return Imagined(state.frame(), rew, end, info)

    def _upsample(
        self, state: WorldState, low_res: torch.Tensor, draws: RowDraws, return_trajectory: bool
    ) -> dict[str, Any]:
        """The full-resolution frame of the new low-resolution one, from the previous full-resolution frame."""
        up = self.upsampler
        assert state.full_res is not None
        cond = upsampler_conditioning(state.full_res, low_res, int(up.denoiser.cfg.upsampling_factor))
        x_init = draws.randn(tuple(state.full_res.shape))
        state.full_res, trajectory = up.sample(
            cond, None, x_init=x_init, return_trajectory=return_trajectory, randn=draws.randn
        )
        info: dict[str, Any] = {"obs_low_res": low_res, "upsampler_prev_obs": cond}
        if trajectory is not None:
            info["denoising_trajectory_upsampling"] = torch.stack(trajectory, dim=1)
        return info


def world_model_of(
    agent: Any,
    sampler_cfg: Any,
    upsampler_cfg: Any = None,
    seed: Optional[int] = None,
    action_spec: Optional[ActionSpec] = None,
) -> WorldModel:
    """The world model of an `Agent`: its denoiser's own sampler with `sampler_cfg`, its upsampler's with
    `upsampler_cfg` (when it has one), its reward/termination model and action spec. `seed` None: a random seed
    (from torch's global generator)."""
    upsampler = None
    if getattr(agent, "upsampler", None) is not None:
        if upsampler_cfg is None:
            raise ValueError("a world model with an upsampler needs the upsampler's sampler settings")
        upsampler = agent.upsampler.build_sampler(upsampler_cfg)
    if seed is None:
        seed = int(torch.randint(2**62, (1,)).item())
    return WorldModel(
        agent.denoiser.build_sampler(sampler_cfg),
        agent.rew_end_model,
        upsampler,
        action_spec or agent.action_spec,
        seed,
    )
