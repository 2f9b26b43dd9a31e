"""`WorldModelEnv`: a batched environment whose frames, rewards and ends come from a `WorldModel`.

Each environment starts from a real context of `n` frames and actions (n = the denoiser's
`num_steps_conditioning`) drawn from a context source (dataset segments, spawn points, ...), or given to `reset`;
the reward/termination LSTM is burned in on that context. `step(act)` has the world model imagine the next frame,
reward and end of every environment as one batch, truncates at the horizon, and restarts finished environments
from fresh contexts.

Environment i draws everything random (its contexts, noise, rewards and ends) from its own generator, seeded from
the world model's seed, the seed given to `reset` and i: its frames do not depend on how many environments share
the batch. `step_together` steps several such environments (each with its own horizon, e.g. one per player) as
one batch of the world model.

The CS:GO world model has no reward/termination model (rewards and ends are 0; episodes truncate at the horizon)
and a second stage: an upsampler draws the full-resolution frame, which the environment returns. Its contexts
(spawn points) carry full-resolution frames too.

Actions are those of the world model's `action_spec`: int64 indices (N,), or float multi-hot vectors (N, D).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Optional

import torch

from diamond_wm.models.world_model import Imagined, RowDraws, WorldModel, WorldState, mix_seeds

# (num_envs, generator) -> (obs (N, n, C, H, W) float in [-1, 1], act (N, n) int64 or (N, n, D) float): real
# contexts; with an upsampler, (obs, act, full_res (N, n, C, H', W')).
InitialConditionSource = Callable[[int, torch.Generator], tuple[torch.Tensor, ...]]


class WorldModelEnv:
    """Batched imagination: the `TorchEnv` interface backed by a `WorldModel`.

    `reset()` returns the last context frame of every environment and `info["context_obs"]`,
    `info["context_act"]` (the whole real context, for burning in a policy's LSTM). `step()` returns
    `info["final_observation"]` (N, C, H, W) holding, for the environments that ended, their last imagined
    frame, and `info["reset_mask"]` with their new context in `info["context_obs"]`/`info["context_act"]`.
    With `autoreset=False` ended environments are not restarted (no new context is drawn): the caller resets
    (a play session does, from the start it chooses).
    """

    def __init__(
        self,
        world_model: WorldModel,
        initial_conditions: InitialConditionSource,
        num_envs: int,
        horizon: int,
        return_denoising_trajectory: bool = False,
        autoreset: bool = True,
    ) -> None:
        if num_envs < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        self.set_horizon(horizon)
        self.world_model = world_model
        self.initial_conditions = initial_conditions
        self.num_envs = num_envs
        self.return_denoising_trajectory = return_denoising_trajectory
        self.autoreset = autoreset  # False: ended environments wait for the caller's reset (play sessions)
        self.action_spec = world_model.action_spec
        self.num_actions = self.action_spec.num_action_dims  # discrete actions; multi-hot dimensions
        self.action_names = self.action_spec.labels
        self.device = world_model.device
        self.generators = self._generators(None)
        self.state: WorldState | None = None
        self.t = torch.zeros(num_envs, dtype=torch.long, device=self.device)

    def set_horizon(self, horizon: int) -> None:
        """Imagination steps before truncation (15 in training; changeable at play time)."""
        if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
            raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
        self.horizon = horizon

    def _generators(self, seed: int | None) -> list[torch.Generator]:
        base = 0 if seed is None else mix_seeds(1, seed)
        return [self.world_model.generator(mix_seeds(base, i)) for i in range(self.num_envs)]

    def _draw_contexts(self, rows: Sequence[int]) -> tuple[torch.Tensor, ...]:
        """Contexts for the given environments, each drawn with its own generator."""
        drawn = [self.initial_conditions(1, self.generators[i]) for i in rows]
        return tuple(torch.cat(parts) for parts in zip(*drawn, strict=True))

    @torch.no_grad()
    def reset(
        self, seed: int | None = None, contexts: Sequence[torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, dict[str, Any]]:
        """Fresh contexts for every environment -> (obs (N, C, H, W), info). `seed`: reseed every environment's
        generator (from the world model's seed, this seed and the environment's index); `contexts`: start from
        these (obs, act[, full_res]) instead of drawing from the source."""
        if seed is not None:
            self.generators = self._generators(seed)
        rows = range(self.num_envs)
        contexts = self._draw_contexts(rows) if contexts is None else contexts
        self.state = self.world_model.start(contexts, self.generators)
        self.t.zero_()
        info = {"context_obs": self.state.obs.clone(), "context_act": self.state.act.clone()}
        return self.state.frame(), info

    # Views of the world model and the state, for play, recording and the tests.
    @property
    def rew_end_model(self) -> Any:
        """The world model's reward/termination model (None: rewards and ends are always 0)."""
        return self.world_model.rew_end_model

    @property
    def obs_buffer(self) -> torch.Tensor | None:
        return None if self.state is None else self.state.obs

    @property
    def act_buffer(self) -> torch.Tensor | None:
        return None if self.state is None else self.state.act

    @torch.no_grad()
    def step(
        self, act: torch.Tensor, draws: Optional[RowDraws] = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """One imagined step for every environment -> (obs, rew (N,), end (N,) uint8, trunc (N,) uint8, info).

        Ended environments restart from fresh contexts (`info["reset_mask"]`, `info["context_obs"]`). `draws`:
        recorded random draws to use instead of the generators (conformance tests)."""
        if self.state is None:
            raise RuntimeError("call reset() before step()")
        out = self.world_model.step(self.state, act, self.return_denoising_trajectory, draws)
        return self.finish_step(out)

    def finish_step(
        self, out: Imagined
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]:
        """Count the step, truncate at the horizon and restart what ended (after the world model stepped)."""
        assert self.state is not None
        info = dict(out.info)
        self.t += 1
        trunc = ((self.t >= self.horizon) & (out.end == 0)).to(torch.uint8)
        info["final_observation"] = out.obs  # a copy, never written to
        done = (out.end | trunc).bool()
        info["reset_mask"] = done
        if done.any() and self.autoreset:
            idx = done.nonzero().squeeze(1).tolist()
            fresh = self.world_model.start(self._draw_contexts(idx), [self.generators[i] for i in idx])
            self.state.assign(idx, fresh)
            self.t[idx] = 0
            context_obs = torch.zeros_like(self.state.obs)
            context_act = torch.zeros_like(self.state.act)
            context_obs[idx], context_act[idx] = fresh.obs, fresh.act
            info["context_obs"], info["context_act"] = context_obs, context_act
        return self.state.frame(), out.rew, out.end, trunc, info

    def state_dict(self) -> dict[str, Any] | None:
        """Where every environment stands (frames, actions, reward/termination LSTM state, generators, step
        counts); None before the first reset."""
        if self.state is None:
            return None
        return {**self.state.state_dict(), "t": self.t.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from `state_dict()`'s output. Nothing is drawn from the source of contexts: the saved state
        holds every row (a resumed rank may have no episode yet when it loads it)."""
        if self.state is None:
            hx, cx = (t.to(self.device) for t in state["hx_cx"])
            obs, act = state["obs_buffer"].to(self.device), state["act_buffer"].to(self.device)
            self.state = WorldState(obs, act, hx, cx, None, self.generators)
        self.state.load_state_dict(state)
        self.t = state["t"].to(self.device)

    def close(self) -> None:
        """Nothing to release (for interface parity with real environments)."""


@torch.no_grad()
def step_together(
    envs: Sequence[WorldModelEnv], actions: Sequence[torch.Tensor], buckets: Sequence[int] = ()
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, dict[str, Any]]]:
    """Step several environments of one world model as one batch: what each `env.step(act)` would return (the
    same frames, within float rounding: each row draws from its own generator). `buckets` (increasing batch
    sizes, e.g. 1, 2, 4, 8, 16): the batch is padded to the smallest that holds it, so that a compiled world model
    sees only those sizes (see `warm_up_buckets`); the padding rows draw from generators of their own and are
    dropped."""
    if not envs:
        return []
    world_model = envs[0].world_model
    key = world_model.batch_key()
    if any(e.world_model.batch_key() != key or e.state is None for e in envs):
        raise ValueError(
            "step_together needs environments of one world model (same networks and sampler), each reset"
        )
    trajectory = any(e.return_denoising_trajectory for e in envs)
    sizes = [e.num_envs for e in envs]
    state = WorldState.cat([e.state for e in envs])  # type: ignore[misc]
    if len(actions) != len(envs):
        raise ValueError(f"{len(actions)} actions for {len(envs)} environments")
    device = world_model.device
    act = torch.cat(
        [torch.as_tensor(a, device=device).reshape(n, -1) for a, n in zip(actions, sizes, strict=True)]
    )
    rows = state.batch_size
    size = next((b for b in sorted(buckets) if b >= rows), rows)
    if size > rows:
        state, act = _padded(state, act, size)
    out = world_model.step(state, act, trajectory)
    results, start = [], 0
    for env, n in zip(envs, sizes, strict=True):
        rows = list(range(start, start + n))
        env.state = state.select(rows)
        info = {k: v[start : start + n] for k, v in out.info.items()}
        part = Imagined(
            out.obs[start : start + n], out.rew[start : start + n], out.end[start : start + n], info
        )
        results.append(env.finish_step(part))
        start += n
    return results


def _padded(state: WorldState, act: torch.Tensor, size: int) -> tuple[WorldState, torch.Tensor]:
    """`state` and `act` with rows added (copies of the first row, with generators of their own) up to `size`."""
    extra = size - state.batch_size
    pad = state.select([0] * extra)
    pad.generators = [torch.Generator(device=g.device).manual_seed(i) for i, g in enumerate(pad.generators)]
    return WorldState.cat([state, pad]), torch.cat([act, act[:1].expand(extra, *act.shape[1:])])


@torch.no_grad()
def warm_up_buckets(env: WorldModelEnv, buckets: Sequence[int]) -> None:
    """Run the world model once at each batch size of `buckets` on copies of `env`'s state (its own state and
    generators untouched), so that a compiled world model has compiled every size before it is used."""
    if env.state is None:
        raise RuntimeError("reset() the environment first")
    for size in buckets:
        state = env.state.select([0] * size)
        state.generators = [torch.Generator(device=env.device).manual_seed(i) for i in range(size)]
        state.obs, state.act = state.obs.clone(), state.act.clone()
        act = env.action_spec.zeros(size, 1, device=env.device)[:, 0]
        env.world_model.step(state, act)
