"""Random episodes for the data tests."""

from __future__ import annotations

import torch

from diamond_wm.data import Episode


def random_episode(
    length: int,
    *,
    size: int = 8,
    end: bool = False,
    trunc: bool = False,
    final: bool = True,
    seed: int = 0,
    num_actions: int = 4,
) -> Episode:
    g = torch.Generator().manual_seed(seed)
    e = torch.zeros(length, dtype=torch.uint8)
    tr = torch.zeros(length, dtype=torch.uint8)
    e[-1], tr[-1] = int(end), int(trunc and not end)
    info = {}
    if (end or trunc) and final:
        info["final_observation"] = torch.randint(0, 256, (3, size, size), dtype=torch.uint8, generator=g)
    return Episode(
        obs=torch.randint(0, 256, (length, 3, size, size), dtype=torch.uint8, generator=g),
        act=torch.randint(0, num_actions, (length,), generator=g),
        rew=torch.randint(-1, 2, (length,), generator=g).float() * 2.5,
        end=e,
        trunc=tr,
        info=info,
    )


def assert_episodes_equal(a: Episode, b: Episode) -> None:
    for k in ("obs", "act", "rew", "end", "trunc"):
        x, y = getattr(a, k), getattr(b, k)
        assert x.dtype == y.dtype and torch.equal(x, y), k
    fa, fb = a.final_observation, b.final_observation
    assert (fa is None) == (fb is None)
    if fa is not None:
        assert torch.equal(fa, fb)
