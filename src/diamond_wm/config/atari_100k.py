"""The 26 games of the Atari 100k benchmark (Kaiser et al., 2020) and their Gymnasium ids.

The benchmark's protocol (and the paper's) plays `<Game>NoFrameskip-v4`: no sticky actions, frame skip 4 done by
the preprocessing, the minimal action set. A score is compared with the paper's only for these ids.
"""

from __future__ import annotations

import re
from typing import Optional

ATARI_100K_GAMES: tuple[str, ...] = (
    "Alien",
    "Amidar",
    "Assault",
    "Asterix",
    "BankHeist",
    "BattleZone",
    "Boxing",
    "Breakout",
    "ChopperCommand",
    "CrazyClimber",
    "DemonAttack",
    "Freeway",
    "Frostbite",
    "Gopher",
    "Hero",
    "Jamesbond",
    "Kangaroo",
    "Krull",
    "KungFuMaster",
    "MsPacman",
    "Pong",
    "PrivateEye",
    "Qbert",
    "RoadRunner",
    "Seaquest",
    "UpNDown",
)

GYM_ID_SUFFIX = "NoFrameskip-v4"
ATARI_100K_IDS: dict[str, str] = {game: f"{game}{GYM_ID_SUFFIX}" for game in ATARI_100K_GAMES}
_GAME_OF_ID = {env_id: game for game, env_id in ATARI_100K_IDS.items()}
# Other spellings of an ALE game, to say which Atari 100k id was meant: ALE/Breakout-v5, Breakout-v4, ...
_OTHER_ALE_ID = re.compile(r"^(?:ALE/)?([A-Za-z]+?)(?:NoFrameskip|Deterministic)?-v\d+$")


def gym_id(game: str) -> str:
    """`BreakoutNoFrameskip-v4` for `Breakout`; ValueError naming the game and the accepted names otherwise."""
    if game not in ATARI_100K_IDS:
        raise ValueError(f"unknown Atari 100k game {game!r}: expected one of {', '.join(ATARI_100K_GAMES)}")
    return ATARI_100K_IDS[game]


def game_of(env_id: str) -> Optional[str]:
    """The Atari 100k game played by `env_id` (`BreakoutNoFrameskip-v4` -> `Breakout`), else None."""
    return _GAME_OF_ID.get(env_id)


def not_atari_100k(env_id: str) -> str:
    """Why `env_id` is not an Atari 100k game, naming the id to use when it is another spelling of one."""
    m = _OTHER_ALE_ID.match(env_id)
    if m is not None and m.group(1) in ATARI_100K_IDS:
        return (
            f"env id {env_id!r} is not the Atari 100k protocol's: its scores compare with the paper's only "
            f"as {ATARI_100K_IDS[m.group(1)]!r}"
        )
    return f"env id {env_id!r} is not one of the 26 Atari 100k games (<Game>{GYM_ID_SUFFIX}, e.g. BreakoutNoFrameskip-v4)"
