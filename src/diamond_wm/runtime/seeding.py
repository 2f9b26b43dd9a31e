"""Seeding of Python, NumPy and torch; a null seed draws one so that every run can be repeated."""

from __future__ import annotations

import logging
import os
import random
from typing import Optional

import numpy as np
import torch

log = logging.getLogger(__name__)


def draw_seed() -> int:
    """A fresh seed from the OS entropy pool, in the range every library accepts."""
    return int.from_bytes(os.urandom(4), "little") & 0x7FFF_FFFF


def seed_everything(seed: Optional[int]) -> int:
    """Seed Python, NumPy and torch; draw a seed when `seed` is None. Returns (and logs) the seed in force."""
    if seed is None:
        seed = draw_seed()
        log.info("seed: %d (drawn; pass common.seed=%d to repeat this run)", seed, seed)
    else:
        log.info("seed: %d", seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return seed
