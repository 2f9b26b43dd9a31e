"""Published Atari 100k numbers, carried as package data (`diamond_wm/results/data/`), and the human-normalised score.

- `diamond_paper.json`: DIAMOND's final returns, 26 games x 5 seeds, each the mean return of 100 test episodes at
  the end of a run (epsilon 0). Source: Alonso, Jelley, Micheli, Kanervisto, Storkey, Pearce and Fleuret,
  "Diffusion for World Modeling: Visual Details Matter in Atari", NeurIPS 2024 (arXiv:2405.12399), released as
  `results/data/DIAMOND.json` in github.com/eloialonso/diamond. Mean HNS 1.459, IQM 0.641 (the paper's Table 1).
- `human.json`, `random.json`: the human and random-policy scores per game that Atari 100k papers normalise with
  (Mnih et al., "Human-level control through deep reinforcement learning", Nature 2015, and the benchmark's later
  uses), as the DIAMOND paper uses them.

HNS = (score - random) / (human - random): 0 plays like a random policy, 1 like the human reference.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from diamond_wm.config.atari_100k import ATARI_100K_GAMES

PAPER_NAME = "DIAMOND (paper)"
PAPER_CITATION = "Alonso et al., Diffusion for World Modeling: Visual Details Matter in Atari, NeurIPS 2024 (arXiv:2405.12399)"
PAPER_NUM_FINAL_EPISODES = 100
DATA_FILES = ("diamond_paper.json", "human.json", "random.json")


def _read(name: str) -> Any:
    return json.loads(resources.files("diamond_wm.results").joinpath("data", name).read_text())


@cache
def _paper() -> dict[str, tuple[float, ...]]:
    return {game: tuple(float(x) for x in runs) for game, runs in _read("diamond_paper.json").items()}


@cache
def _reference(name: str) -> dict[str, float]:
    return {game: float(x) for game, x in _read(name).items()}


def paper_scores() -> dict[str, list[float]]:
    """DIAMOND's final returns per game, 5 seeds each (a fresh copy, in the 26 games' order)."""
    paper = _paper()
    return {game: list(paper[game]) for game in ATARI_100K_GAMES}


def human_scores() -> dict[str, float]:
    """The human reference score of each game."""
    return dict(_reference("human.json"))


def random_scores() -> dict[str, float]:
    """The random-policy score of each game."""
    return dict(_reference("random.json"))


def hns(game: str, score: float) -> float:
    """Human-normalised score of `score` in `game`: (score - random) / (human - random)."""
    human, rand = _reference("human.json")[game], _reference("random.json")[game]
    return (score - rand) / (human - rand)
