from __future__ import annotations

import logging
import random

import numpy as np
import torch

from diamond_wm.runtime.seeding import seed_everything


def _draws():
    return random.random(), float(np.random.rand()), float(torch.rand(()))


def test_fixed_seed_repeats_every_library():
    assert seed_everything(123) == 123
    first = _draws()
    seed_everything(123)
    assert _draws() == first
    seed_everything(124)
    assert _draws() != first


def test_null_seed_is_drawn_logged_and_repeatable(caplog):
    caplog.set_level(logging.INFO)
    seed = seed_everything(None)
    assert 0 <= seed < 2**31
    assert f"common.seed={seed}" in caplog.text
    first = _draws()
    seed_everything(seed)
    assert _draws() == first
