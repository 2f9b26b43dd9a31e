"""Several play sessions of one world model advanced together: their world-model steps taken as one batch.

`update_together(sessions)` does what `session.update()` does for each session, except that the sessions whose
current environment is a world model are stepped with one call of the world model (`step_together`): each
session's environment draws from its own generator, so what a session sees does not depend on who else is in the
batch (within float rounding). Sessions in a real environment, paused ones and the dataset browser step alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from diamond_wm.envs.world_model_env import WorldModelEnv, step_together, warm_up_buckets
from diamond_wm.runtime.precision import autocast


def batch_buckets(max_rows: int) -> tuple[int, ...]:
    """The batch sizes a compiled world model is compiled for, to serve up to `max_rows` rows: powers of two
    below it, and `max_rows`."""
    if max_rows < 1:
        raise ValueError(f"max_rows must be >= 1, got {max_rows}")
    sizes = [1 << k for k in range(max_rows.bit_length()) if 1 << k < max_rows]
    return (*sizes, max_rows)


def warm_up_session(session: Any, buckets: Sequence[int]) -> None:
    """Run `session`'s world model once at each batch size of `buckets` (compiling each size of a compiled
    model now, not when players are waiting); the session's own state and random streams are untouched."""
    env = next(e.env for e in session.envs if e.is_world_model)
    states = [g.get_state() for g in env.generators]
    with autocast(session.device, session.precision):
        if env.state is None:
            env.reset()
        warm_up_buckets(env, buckets)
    for g, state in zip(env.generators, states, strict=True):
        g.set_state(state)
    session.request_reset()


def update_together(sessions: Sequence[Any], buckets: Sequence[int] = ()) -> list[bool]:
    """`[session.update() for session in sessions]`, world-model steps batched; what each returned (stepped or
    not). Sessions without `begin_update` (the dataset browser) are updated alone. `buckets`: pad each batch to
    one of these sizes (a compiled world model; see `envs.world_model_env.step_together`). An error of the batched
    step is raised after every other session was updated (the batch's sessions are left without their step)."""
    stepped = [False] * len(sessions)
    batch: dict[
        tuple, list[tuple[int, Any]]
    ] = {}  # world model's batch key -> [(session index, pending step)]
    for i, session in enumerate(sessions):
        if not hasattr(session, "begin_update"):
            stepped[i] = session.update()
            continue
        pending = session.begin_update()
        if pending is None:
            continue
        if isinstance(pending.env, WorldModelEnv):
            batch.setdefault(pending.env.world_model.batch_key(), []).append((i, pending))
            continue
        with autocast(session.device, session.precision):
            session.end_update(pending, pending.env.step(pending.act))
        stepped[i] = True
    for group in batch.values():
        first = sessions[group[0][0]]
        with autocast(first.device, first.precision):
            results = step_together([p.env for _, p in group], [p.act for _, p in group], buckets)
            for (i, pending), result in zip(group, results, strict=True):
                sessions[i].end_update(pending, result)
                stepped[i] = True
    return stepped
