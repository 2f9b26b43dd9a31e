"""The packaged Atari 100k facts: the games, their ids, the paper's scores and the human and random scores."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from diamond_wm.config.atari_100k import ATARI_100K_GAMES, ATARI_100K_IDS, game_of, gym_id, not_atari_100k
from diamond_wm.results import scores


@pytest.mark.parametrize("name", scores.DATA_FILES)
def test_packaged_scores_equal_the_shared_reference(reference_dir, name):
    packaged = json.loads((resources.files("diamond_wm.results") / "data" / name).read_text())
    assert packaged == json.loads((reference_dir / "scores" / name).read_text())


def test_every_game_has_five_paper_runs_and_human_above_random():
    paper, human, rand = scores.paper_scores(), scores.human_scores(), scores.random_scores()
    assert len(ATARI_100K_GAMES) == 26
    assert list(paper) == list(ATARI_100K_GAMES)
    assert set(human) == set(rand) == set(ATARI_100K_GAMES)
    assert all(len(runs) == 5 for runs in paper.values())
    assert all(human[g] > rand[g] for g in ATARI_100K_GAMES)


def test_hns_is_zero_at_random_and_one_at_human():
    for game in ATARI_100K_GAMES:
        assert scores.hns(game, scores.random_scores()[game]) == 0.0
        assert scores.hns(game, scores.human_scores()[game]) == pytest.approx(1.0)
    assert scores.hns("Breakout", 30.5 + (30.5 - 1.7)) == pytest.approx(2.0)


def test_paper_scores_are_copies():
    scores.paper_scores()["Breakout"].append(1e9)
    assert len(scores.paper_scores()["Breakout"]) == 5


def test_gym_ids_round_trip():
    assert gym_id("Breakout") == "BreakoutNoFrameskip-v4"
    assert ATARI_100K_IDS["UpNDown"] == "UpNDownNoFrameskip-v4"
    assert all(game_of(gym_id(g)) == g for g in ATARI_100K_GAMES)
    assert game_of("ALE/Breakout-v5") is None and game_of("diamond_wm/Catch-v0") is None


def test_bad_game_and_ids_name_what_is_accepted():
    with pytest.raises(ValueError, match=r"unknown Atari 100k game 'Tetris': expected one of Alien, "):
        gym_id("Tetris")
    assert "as 'BreakoutNoFrameskip-v4'" in not_atari_100k("ALE/Breakout-v5")
    assert "as 'PongNoFrameskip-v4'" in not_atari_100k("PongDeterministic-v4")
    assert "not one of the 26 Atari 100k games" in not_atari_100k("ALE/Tetris-v5")


def test_hub_lists_the_same_games():
    from diamond_wm import hub

    assert hub.ATARI_100K_GAMES is ATARI_100K_GAMES
